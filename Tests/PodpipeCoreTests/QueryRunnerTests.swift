import GRDB
import Testing

@testable import PodpipeCore

/// The read seam (issue 18): PostgreSQL's text results typed by OID as SQLite's values are,
/// so that one renderer prints the same text from both engines.
@Suite("read seam: typed values from both engines")
struct QueryRunnerTests {
    @Test func postgresValuesAreTypedByTheirColumnsOID() {
        typealias OID = PostgresQueries.TypeOID
        #expect(PostgresQueries.value("42", type: OID.int8) == .integer(42))
        #expect(PostgresQueries.value("-7", type: OID.int4) == .integer(-7))
        #expect(PostgresQueries.value("3", type: OID.int2) == .integer(3))
        #expect(PostgresQueries.value("t", type: OID.bool) == .integer(1))
        #expect(PostgresQueries.value("f", type: OID.bool) == .integer(0))
        #expect(PostgresQueries.value("0.1", type: OID.float8) == .real(0.1, decimals: Reports.realDecimals))
        #expect(
            PostgresQueries.value("12345", type: OID.numeric) == .real(12345, decimals: Reports.realDecimals))
        #expect(PostgresQueries.value(nil, type: OID.int8) == .null)
        #expect(PostgresQueries.value("2024-01-01", type: 1082) == .text("2024-01-01"))
        #expect(PostgresQueries.value("ep_1", type: 25) == .text("ep_1"))
        // A value that does not parse as its type is kept as text, never a trap.
        #expect(
            PostgresQueries.value("99999999999999999999", type: OID.int8) == .text("99999999999999999999"))
    }

    @Test func theSameDoubleRendersTheSameFromBothEngines() throws {
        let queue = try DatabaseQueue()
        let sqlite = try queue.read { db in
            try SQLiteQueries(db: db).table(
                "SELECT CAST(7 AS REAL) / 3 AS rate, $1 AS n, $2 AS t, NULL AS z", [.integer(5), .text("x")])
        }
        // PostgreSQL sends the shortest text that reads back as the same double.
        var rows = PostgresRows()
        rows.columns = ["rate", "n", "t", "z"]
        rows.types = [PostgresQueries.TypeOID.float8, PostgresQueries.TypeOID.int8, 25, 25]
        rows.rows = [["\(7.0 / 3.0)", "5", "x", nil]]
        let postgres = PostgresQueries.table(rows)
        #expect(sqlite == postgres)
        for format in ReportFormat.allCases {
            #expect(ReportRenderer.render(sqlite, as: format) == ReportRenderer.render(postgres, as: format))
        }
    }
}
