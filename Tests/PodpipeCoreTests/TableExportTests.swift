import Foundation
import GRDB
import Testing

@testable import PodpipeCore

// `podpipectl export`'s logic on a database in memory: which names it accepts, how it
// types values, what a terminal sees.

@Suite("table export")
struct TableExportTests {
    static func world() throws -> SilverWorld {
        let world = try SilverWorld()
        try Catalog.install(world.queue)
        try world.reference(
            users: ["u1": .init(signup: "2024-01-01", country: "DE")],
            episodes: [
                "e1": .init(
                    podcast: "p1", title: "Bell\u{07}, \"quoted\"\nnext", release: "2024-01-01",
                    duration: 1000)
            ])
        try world.event("u1", "e1", "complete", on: "2024-03-01", duration: 250)
        try world.event("u1", "e1", "pause", on: "2024-03-01", at: "13:00:00")
        try world.refresh()
        return world
    }

    static func export(
        _ world: SilverWorld, _ source: ExportSource, _ format: ExportFormat, terminal: Bool = false
    ) throws -> String {
        var out = Data()
        _ = try world.queue.read { db in
            try TableExport.run(source, format: format, forTerminal: terminal, in: db) { out.append($0) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    @Test("names: the star schema, the answers and silver; internals and unknown names refused with the list")
    func names() throws {
        let world = try Self.world()
        let known = try world.queue.read { db in try TableExport.exportableObjects(db) }
        #expect(known.first == "fact_user_interactions")
        #expect(known.contains("gold_daily_activity"))
        #expect(known.contains("silver_event"))
        #expect(!known.contains("gold_agg_day"))
        #expect(!known.contains("bronze_event"))
        for name in ["gold_agg_day", "nope", "dim_users; DROP TABLE x"] {
            let error = #expect(throws: ExportError.self) { try Self.export(world, .object(name), .csv) }
            #expect(error?.description.contains("fact_user_interactions") == true)
        }
    }

    @Test("JSON and NDJSON keep types: integers and reals as numbers, NULL as null")
    func jsonTypes() throws {
        let world = try Self.world()
        let sql = """
            SELECT event_type, listened_seconds, listen_through_rate, user_known
            FROM fact_user_interactions ORDER BY interaction_id
            """
        #expect(
            try Self.export(world, .query(sql), .ndjson) == """
                {"event_type": "complete", "listened_seconds": 250, "listen_through_rate": 0.25, "user_known": 1}
                {"event_type": "pause", "listened_seconds": null, "listen_through_rate": null, "user_known": 1}

                """)
        let json = try Self.export(world, .query(sql), .json)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(parsed.count == 2)
        #expect(parsed[1]["listened_seconds"] is NSNull)
        #expect(try Self.export(world, .query("SELECT 1 AS x WHERE 0"), .json) == "[]\n")
        #expect(try Self.export(world, .query("SELECT 1 AS x WHERE 0"), .csv) == "x\n")
    }

    @Test("CSV: RFC 4180 quoting, exact bytes off a terminal, escaped control characters on one")
    func csvAndTerminal() throws {
        let world = try Self.world()
        let sql = "SELECT episode_id, title, duration_seconds FROM dim_episodes"
        #expect(
            try Self.export(world, .query(sql), .csv)
                == "episode_id,title,duration_seconds\ne1,\"Bell\u{07}, \"\"quoted\"\"\nnext\",1000\n")
        let shown = try Self.export(world, .query(sql), .csv, terminal: true)
        #expect(!shown.contains("\u{07}"))
        #expect(shown.contains(TerminalText.escape("Bell\u{07}")))
    }

    @Test("--sql: one read-only statement; writes and several statements refused, nothing changed")
    func readOnlyQueries() throws {
        let world = try Self.world()
        for sql in [
            "DELETE FROM silver_event", "SELECT 1; DELETE FROM silver_event", "CREATE TABLE t (x)",
            "INSERT INTO silver_user (user_id, signup_date, country, file_id, line_no) VALUES ('x', '2024-01-01', 'DE', 1, 1)",
        ] {
            #expect(throws: (any Error).self, "\(sql)") {
                try world.queue.write { db in
                    try TableExport.run(.query(sql), format: .csv, forTerminal: false, in: db) { _ in }
                }
            }
        }
        #expect(
            try world.queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM silver_event") } == 2
        )
    }

    @Test("a large table streams in chunks")
    func streams() throws {
        let world = try Self.world()
        var chunks = 0
        var rows = 0
        try world.queue.read { db in
            rows = try TableExport.run(
                .query(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) SELECT i, 'row ' || i AS label FROM n"
                ),
                format: .ndjson, forTerminal: false, in: db
            ) { data in
                chunks += 1
                #expect(data.count < 2 * TableExport.chunkSize)
            }
        }
        #expect(rows == 20_000)
        #expect(chunks > 4)
    }

    @Test("PostgreSQL values are typed as SQLite's: integers, flags, doubles, integral numerics, text")
    func postgresValues() {
        #expect(ExportValue(postgres: "42", type: 20) == .integer(42))
        #expect(ExportValue(postgres: "t", type: 16) == .integer(1))
        #expect(ExportValue(postgres: "f", type: 16) == .integer(0))
        #expect(ExportValue(postgres: "0.1", type: 701) == .real(0.1))
        #expect(ExportValue(postgres: "1e-05", type: 701) == .real(0.00001))
        #expect(ExportValue(postgres: "1234", type: 1700) == .integer(1234))
        #expect(ExportValue(postgres: "2.50", type: 1700) == .real(2.5))
        #expect(ExportValue(postgres: "99999999999999999999", type: 1700) == .real(1e20))
        #expect(ExportValue(postgres: "2024-01-01", type: 1082) == .text("2024-01-01"))
        #expect(ExportValue(postgres: nil, type: 20) == .null)
        #expect(ExportValue(postgres: "x", type: 20) == .text("x"))
        // The same text as SQLite's values.
        var out = Data()
        var writer = ExportWriter(columns: ["a", "b", "c"], format: .csv, forTerminal: false) {
            out.append($0)
        }
        #expect(throws: Never.self) {
            try writer.begin()
            try writer.row([
                ExportValue(postgres: "1.0", type: 701), .null, ExportValue(postgres: "7", type: 1700),
            ])
            _ = try writer.end()
        }
        #expect(String(decoding: out, as: UTF8.self) == "a,b,c\n1.0,,7\n")
    }

    @Test("a PostgreSQL --sql refused as a write: the first word decides when the server says syntax")
    func postgresRefusals() {
        #expect(PostgresExport.startsAQuery("  -- note\n (SELECT 1)"))
        #expect(PostgresExport.startsAQuery("/* x */ WITH a AS (SELECT 1) SELECT * FROM a"))
        #expect(!PostgresExport.startsAQuery("DELETE FROM silver_event"))
        let syntax = PostgresError.statement("syntax error at or near \"DELETE\"", sqlState: "42601", sql: "")
        #expect(PostgresExport.refusedAsWrite(syntax, sql: "DELETE FROM x"))
        #expect(!PostgresExport.refusedAsWrite(syntax, sql: "SELECT FROM FROM"))
        let readOnly = PostgresError.statement("cannot execute INSERT", sqlState: "25006", sql: "")
        #expect(PostgresExport.refusedAsWrite(readOnly, sql: "SELECT f()"))
        let missing = PostgresError.statement("column nope does not exist", sqlState: "42703", sql: "")
        #expect(!PostgresExport.refusedAsWrite(missing, sql: "SELECT nope"))
    }
}
