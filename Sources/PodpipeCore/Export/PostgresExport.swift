import Foundation
import GRDB

/// `podpipectl export` on a PostgreSQL warehouse: the same names, formats and bytes as on
/// SQLite (``TableExport``), read in one `READ ONLY` transaction through a server-side
/// cursor fetched ``fetchRows`` rows at a time, so a million-row table never sits in memory
/// (on the client nor, for a plain table or view, on the server).
///
/// `--sql` is read-only twice over: the transaction is `READ ONLY` (the server refuses any
/// write, including a function that writes), and the query is declared as a cursor, which
/// takes exactly one `SELECT` (or `VALUES`/`TABLE`), never a second statement nor a
/// data-modifying `WITH`.
enum PostgresExport {
    /// Rows per `FETCH` (one round trip each).
    static let fetchRows = 8_192
    /// The cursor's name, private to the transaction.
    static let cursor = "podpipe_export"

    /// Writes every row of `source`; returns the number of rows written.
    /// - Throws: ``ExportError``, ``PostgresError``, whatever `write` throws.
    static func run(
        _ source: ExportSource, format: ExportFormat, forTerminal: Bool, connection: PostgresConnection,
        write: (Data) throws -> Void
    ) throws -> Int {
        try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        defer { _ = try? connection.execute("ROLLBACK") }
        let sql: String
        switch source {
        case .object(let name):
            let known = try exportableObjects(connection)
            guard known.contains(name) else { throw ExportError.unknownObject(name, known: known) }
            let table = name.quotedDatabaseIdentifier
            // The columns and their types, for the ORDER BY (text collated as bytes).
            let shape = try connection.query("SELECT * FROM \(table) LIMIT 0")
            let text = Set(zip(shape.columns, shape.types).filter { textTypes.contains($0.1) }.map(\.0))
            sql =
                "SELECT * FROM \(table) ORDER BY "
                + TableExport.orderBy(shape.columns, textColumns: text, nullsFirst: true)
        case .query(let query):
            sql = query
        }
        _ = try refusingWrites(sql) { () throws(PostgresError) -> PostgresRows in
            try connection.query("DECLARE \(cursor) NO SCROLL CURSOR FOR \(sql)")
        }
        return try withoutActuallyEscaping(write) { write in
            try stream(sql, format: format, forTerminal: forTerminal, connection: connection, write: write)
        }
    }

    /// Fetches the declared cursor to its end through one ``ExportWriter``.
    private static func stream(
        _ sql: String, format: ExportFormat, forTerminal: Bool, connection: PostgresConnection,
        write: @escaping (Data) throws -> Void
    ) throws -> Int {
        var writer: ExportWriter?
        var values: [ExportValue] = []
        while true {
            // The first FETCH runs the query (a sort, a join): the deadline is for a server
            // that stopped answering, not for a long query.
            let batch = try refusingWrites(sql) { () throws(PostgresError) -> PostgresRows in
                try connection.query(
                    "FETCH FORWARD \(fetchRows) FROM \(cursor)", timeout: max(connection.timeout, 600))
            }
            if writer == nil {
                var first = ExportWriter(
                    columns: batch.columns, format: format, forTerminal: forTerminal, write: write)
                try first.begin()
                writer = first
            }
            for row in batch.rows {
                values.removeAll(keepingCapacity: true)
                for (index, text) in row.enumerated() {
                    values.append(
                        ExportValue(postgres: text, type: index < batch.types.count ? batch.types[index] : 0))
                }
                try writer?.row(values)
            }
            if batch.rows.count < fetchRows { break }
        }
        return try writer?.end() ?? 0
    }

    /// Runs `body`, turning the server's refusal of `sql` as a write into ``ExportError``.
    private static func refusingWrites<T>(_ sql: String, _ body: () throws(PostgresError) -> T) throws -> T {
        do {
            return try body()
        } catch {
            if refusedAsWrite(error, sql: sql) { throw ExportError.notReadOnly(sql) }
            throw error
        }
    }

    /// ``TableExport/exportableObjects(_:)`` on PostgreSQL (the same catalog rows).
    static func exportableObjects(_ connection: PostgresConnection) throws -> [String] {
        guard try connection.query("SELECT to_regclass('podpipe_catalog') IS NOT NULL").scalar == "t" else {
            throw ExportError.catalogMissing
        }
        return try connection.query(
            TableExport.exportableSQL(exists: "to_regclass(quote_ident(c.object_name)) IS NOT NULL")
        ).rows.compactMap { $0.first ?? nil }
    }

    /// Text types (text, varchar, char, name), collated as bytes in the ORDER BY as SQLite's
    /// BINARY does; other types sort by their own order (numbers as numbers).
    static let textTypes: Set<UInt32> = [25, 1043, 1042, 19]

    /// Whether the server refused `sql` as something other than one read-only query: a write
    /// in the read-only transaction (SQLSTATE 25006), a data-modifying `WITH` in a cursor
    /// (0A000), several statements, or a statement a cursor cannot hold (a syntax error at
    /// a first word that does not start a query).
    static func refusedAsWrite(_ error: PostgresError, sql: String) -> Bool {
        guard case .statement(let message, let state, _) = error else { return false }
        switch state {
        case "25006", "0A000": return true
        case "42601":
            return message.contains("multiple commands") || !startsAQuery(sql)
        default: return false
        }
    }

    /// Whether `sql`'s first word (after blanks, comments and opening parentheses) starts a
    /// query: SELECT, WITH, VALUES or TABLE.
    static func startsAQuery(_ sql: String) -> Bool {
        var rest = Substring(sql)
        while true {
            rest = rest.drop { $0.isWhitespace || $0 == "(" }
            if rest.hasPrefix("--") {
                rest = rest.drop { $0 != "\n" }
            } else if rest.hasPrefix("/*"), let end = rest.range(of: "*/") {
                rest = rest[end.upperBound...]
            } else {
                break
            }
        }
        let word = rest.prefix { $0.isLetter }.lowercased()
        return ["select", "with", "values", "table"].contains(word)
    }
}

extension Warehouse {
    /// `podpipectl export` from this warehouse (``PostgresExport``); returns the rows written.
    @discardableResult
    public func export(
        _ source: ExportSource, format: ExportFormat, forTerminal: Bool, write: (Data) throws -> Void
    ) throws -> Int {
        try PostgresExport.run(
            source, format: format, forTerminal: forTerminal, connection: connection, write: write)
    }
}
