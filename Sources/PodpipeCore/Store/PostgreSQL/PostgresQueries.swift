/// The read seam (``QueryRunner``) over a PostgreSQL connection: one SELECT per call, its
/// text results typed by the column's type OID (`PQftype`), so that a report renders the
/// same text as on SQLite:
///
/// - int2, int4, int8 (and oid) → integer; bool → integer 1 / 0 (SQLite's flags);
/// - float4, float8, numeric → real, rendered with ``Reports/realDecimals`` (PostgreSQL 12+
///   sends the shortest text that reads back as the same double, so nothing is lost);
/// - NULL → null; everything else (text, varchar, char, date, timestamps) → text as sent.
///
/// A value that does not parse as its type (it never should) is kept as text rather than
/// trapping.
struct PostgresQueries: QueryRunner {
    let connection: PostgresConnection

    var engine: StoreEngine { .postgresql }

    /// Type OIDs of `pg_type` (stable since PostgreSQL 7).
    enum TypeOID {
        static let bool: UInt32 = 16
        static let int8: UInt32 = 20
        static let int2: UInt32 = 21
        static let int4: UInt32 = 23
        static let oid: UInt32 = 26
        static let float4: UInt32 = 700
        static let float8: UInt32 = 701
        static let numeric: UInt32 = 1700
    }

    func table(_ sql: String, _ parameters: [ReportValue]) throws -> ReportTable {
        let result = try connection.query(sql, parameters.map(Self.parameter))
        return Self.table(result)
    }

    func relationExists(_ name: String) throws -> Bool {
        try connection.query("SELECT to_regclass($1) IS NOT NULL", [name]).scalar == "t"
    }

    /// A parameter as libpq's text (nil: NULL).
    static func parameter(_ value: ReportValue) -> String? {
        switch value {
        case .null: nil
        case .integer(let number): String(number)
        case .real(let number, _): "\(number)"
        case .text(let text): text
        }
    }

    /// The rows typed by their columns' OIDs.
    static func table(_ result: PostgresRows) -> ReportTable {
        let types = result.columns.indices.map { $0 < result.types.count ? result.types[$0] : 0 }
        let rows = result.rows.map { row in
            row.enumerated().map { column, text in
                value(text, type: column < types.count ? types[column] : 0)
            }
        }
        return ReportTable(columns: result.columns, rows: rows)
    }

    static func value(_ text: String?, type: UInt32) -> ReportValue {
        guard let text else { return .null }
        switch type {
        case TypeOID.int2, TypeOID.int4, TypeOID.int8, TypeOID.oid:
            return Int64(text).map { .integer($0) } ?? .text(text)
        case TypeOID.bool:
            return .integer(text == "t" ? 1 : 0)
        case TypeOID.float4, TypeOID.float8, TypeOID.numeric:
            return Double(text).map { .real($0, decimals: Reports.realDecimals) } ?? .text(text)
        default:
            return .text(text)
        }
    }
}
