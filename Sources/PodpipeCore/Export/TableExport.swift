import Foundation
import GRDB

/// Output formats of `podpipectl export`.
public enum ExportFormat: String, CaseIterable, Sendable {
    /// A header row, comma-separated, RFC 4180 quoting, `\n` line ends (as the reports);
    /// NULL is an empty field.
    case csv
    /// One JSON array of objects keyed by column name; integers and reals as JSON numbers,
    /// NULL as `null`.
    case json
    /// One JSON object per line (newline-delimited JSON), typed as `json`.
    case ndjson
}

/// What `podpipectl export` reads.
public enum ExportSource: Sendable, Equatable {
    /// A whole analyst-facing table or view, in its stored order.
    case object(String)
    /// One read-only SELECT statement.
    case query(String)
}

/// Errors of the export, with what to do about them.
public enum ExportError: Error, CustomStringConvertible, Equatable {
    /// The name is not an analyst-facing table or view; `known` lists those.
    case unknownObject(String, known: [String])
    /// The database has no `podpipe_catalog` (created by an older podpipe).
    case catalogMissing
    /// `--sql` is not one read-only statement.
    case notReadOnly(String)

    public var description: String {
        switch self {
        case .unknownObject(let name, let known):
            "\"\(name)\" is not a table or view analysts can export; known: \(known.joined(separator: ", ")) (or use --sql QUERY)"
        case .catalogMissing:
            "this database has no podpipe_catalog (it was created by an older podpipe): run `podpiped --once` with this version to upgrade it, or use --sql QUERY"
        case .notReadOnly(let query):
            "--sql must be one read-only statement (a SELECT): \"\(query)\" would write or is not one statement"
        }
    }
}

extension ExportError: ExitCoded {
    var exitCode: Int32 { PodpipeExit.filesFailed }
}

/// Streams a table, a view or a query's rows as CSV, JSON or NDJSON: rows are read through
/// a cursor and written in chunks of about 64 KiB, so a million-row table never sits in
/// memory. Read-only: it runs on the caller's (read-only) connection, under
/// `PRAGMA query_only`, and refuses a statement SQLite does not call read-only.
public enum TableExport {
    /// The layers of `podpipe_catalog` whose objects analysts export: the star schema, the
    /// gold answers and silver (the cleansed data). Ledger, bronze, state and gold's
    /// internals are the pipeline's.
    static let exportableLayers = ["star", "answer", "silver"]

    /// The names `export TABLE` accepts, in the catalog's (the doc's) order: objects of the
    /// exportable layers that exist in this database.
    public static func exportableObjects(_ db: Database) throws -> [String] {
        guard try db.tableExists("podpipe_catalog") else { throw ExportError.catalogMissing }
        let layers = exportableLayers.map { "'\($0)'" }.joined(separator: ", ")
        return try String.fetchAll(
            db,
            sql: """
                SELECT c.object_name FROM podpipe_catalog AS c
                WHERE c.column_name = '' AND c.layer IN (\(layers))
                  AND EXISTS (SELECT 1 FROM sqlite_schema AS s
                              WHERE s.name = c.object_name AND s.type IN ('table', 'view'))
                ORDER BY c.position
                """)
    }

    /// Writes every row of `source` in `format` to `write`, in chunks. With
    /// `forTerminal`, every text (column names and values) goes through
    /// ``TerminalText/escape(_:)``; otherwise the bytes are exact.
    ///
    /// - Returns: the number of rows written.
    /// - Throws: ``ExportError``; `DatabaseError`; whatever `write` throws.
    @discardableResult
    public static func run(
        _ source: ExportSource, format: ExportFormat, forTerminal: Bool, in db: Database,
        write: (Data) throws -> Void
    ) throws -> Int {
        let sql: String
        switch source {
        case .object(let name):
            let known = try exportableObjects(db)
            guard known.contains(name) else { throw ExportError.unknownObject(name, known: known) }
            sql = "SELECT * FROM \(name.quotedDatabaseIdentifier)"
        case .query(let query):
            sql = query
        }
        try db.execute(sql: "PRAGMA query_only = 1")
        let statement: Statement
        do {
            statement = try db.makeStatement(sql: sql)
        } catch let error as DatabaseError where error.message?.contains("Multiple statements") == true {
            throw ExportError.notReadOnly(sql)
        }
        guard statement.isReadonly else { throw ExportError.notReadOnly(sql) }

        let text: @Sendable (String) -> String = { forTerminal ? TerminalText.escape($0) : $0 }
        let columns = statement.columnNames.map(text)
        // Text is collected and handed to `write` in chunks of about 64 KiB.
        var buffer = Data()
        buffer.reserveCapacity(2 * chunkSize)
        func flush() throws {
            guard !buffer.isEmpty else { return }
            try write(buffer)
            buffer.removeAll(keepingCapacity: true)
        }
        func append(_ piece: String) throws {
            buffer.append(contentsOf: piece.utf8)
            if buffer.count >= chunkSize { try flush() }
        }
        switch format {
        case .csv: try append(columns.map(ReportRenderer.csvField).joined(separator: ",") + "\n")
        case .json: try append("[")
        case .ndjson: break
        }
        let keys = columns.map(JSONText.string)
        var count = 0
        let cursor = try Row.fetchCursor(statement)
        while let row = try cursor.next() {
            var line = ""
            switch format {
            case .csv:
                for index in 0..<columns.count {
                    if index > 0 { line += "," }
                    line += ReportRenderer.csvField(csvText(row[index] as DatabaseValue, text))
                }
                line += "\n"
            case .json, .ndjson:
                if format == .json { line += count == 0 ? "\n  " : ",\n  " }
                line += "{"
                for index in 0..<columns.count {
                    if index > 0 { line += ", " }
                    line += keys[index] + ": " + jsonText(row[index] as DatabaseValue, text)
                }
                line += format == .json ? "}" : "}\n"
            }
            try append(line)
            count += 1
        }
        if format == .json { try append(count == 0 ? "]\n" : "\n]\n") }
        try flush()
        return count
    }

    /// The size of the chunks handed to the writer.
    static let chunkSize = 65_536

    /// A value as CSV text: integers in decimal, reals in the shortest form that reads back
    /// as the same number, NULL empty, a blob as its bytes read as UTF-8.
    static func csvText(_ value: DatabaseValue, _ text: @Sendable (String) -> String) -> String {
        switch value.storage {
        case .null: ""
        case .int64(let number): String(number)
        case .double(let number): realText(number) ?? ""
        case .string(let string): text(string)
        case .blob(let data): text(String(decoding: data, as: UTF8.self))
        }
    }

    /// A value as JSON: numbers as numbers (a non-finite real as `null`), NULL as `null`.
    static func jsonText(_ value: DatabaseValue, _ text: @Sendable (String) -> String) -> String {
        switch value.storage {
        case .null: "null"
        case .int64(let number): String(number)
        case .double(let number): realText(number) ?? "null"
        case .string(let string): JSONText.string(text(string))
        case .blob(let data): JSONText.string(text(String(decoding: data, as: UTF8.self)))
        }
    }

    /// The shortest decimal text that reads back as `number` (Swift's `description`, valid
    /// JSON: `0.1`, `1e-05`, `2.5e+20`); nil when it is not finite.
    static func realText(_ number: Double) -> String? {
        number.isFinite ? "\(number)" : nil
    }
}
