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
/// memory. Read-only: on SQLite it runs on the caller's (read-only) connection, under
/// `PRAGMA query_only`, and refuses a statement SQLite does not call read-only; on
/// PostgreSQL (``PostgresExport``) in a `READ ONLY` transaction, through a cursor.
///
/// Both engines write through one ``ExportWriter`` from values typed alike
/// (``ExportValue``), so the same data gives the same bytes; `export TABLE` orders the rows
/// by every column in turn (text in byte order, NULL first: ``orderBy(_:)``), the same order
/// on both engines.
public enum TableExport {
    /// The layers of `podpipe_catalog` whose objects analysts export: the star schema, the
    /// gold answers and silver (the cleansed data). Ledger, bronze, state and gold's
    /// internals are the pipeline's.
    static let exportableLayers = ["star", "answer", "silver"]

    /// Columns of SQLite's storage, not of the data: where a row lives in an index
    /// (`silver_event.key_hash`, Store/SilverKeySlot.swift). PostgreSQL has none; an export is
    /// the same on both engines without them.
    static let storageColumns: [String: Set<String>] = ["silver_event": ["key_hash"]]

    /// The catalog query of ``exportableObjects(_:)``; `{{exists}}` is the engine's test
    /// that `c.object_name` is a table or view of this database.
    static func exportableSQL(exists: String) -> String {
        let layers = exportableLayers.map { "'\($0)'" }.joined(separator: ", ")
        return """
            SELECT c.object_name FROM podpipe_catalog AS c
            WHERE c.column_name = '' AND c.layer IN (\(layers)) AND \(exists)
            ORDER BY c.position
            """
    }

    /// The names `export TABLE` accepts, in the catalog's (the doc's) order: objects of the
    /// exportable layers that exist in this database.
    public static func exportableObjects(_ db: Database) throws -> [String] {
        guard try db.tableExists("podpipe_catalog") else { throw ExportError.catalogMissing }
        return try String.fetchAll(
            db,
            sql: exportableSQL(
                exists: """
                    EXISTS (SELECT 1 FROM sqlite_schema AS s
                            WHERE s.name = c.object_name AND s.type IN ('table', 'view'))
                    """))
    }

    /// The `ORDER BY` of `export TABLE`: every column in turn, so that the order is total
    /// and the same on both engines (SQLite's default: text in byte order, NULL first;
    /// PostgreSQL is told so per column). `textColumns`: the columns to collate as bytes
    /// (PostgreSQL's text; SQLite's BINARY collation is already that).
    static func orderBy(_ columns: [String], textColumns: Set<String> = [], nullsFirst: Bool = false)
        -> String
    {
        columns.map { column in
            column.quotedDatabaseIdentifier + (textColumns.contains(column) ? " COLLATE \"C\"" : "")
                + (nullsFirst ? " NULLS FIRST" : "")
        }.joined(separator: ", ")
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
            let hidden = storageColumns[name] ?? []
            let columns = try db.columns(in: name).map(\.name).filter { !hidden.contains($0) }
            sql = """
                SELECT \(columns.map(\.quotedDatabaseIdentifier).joined(separator: ", "))
                FROM \(name.quotedDatabaseIdentifier) ORDER BY \(orderBy(columns))
                """
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

        return try withoutActuallyEscaping(write) { write in
            var writer = ExportWriter(
                columns: statement.columnNames, format: format, forTerminal: forTerminal, write: write)
            try writer.begin()
            let cursor = try Row.fetchCursor(statement)
            var values: [ExportValue] = []
            while let row = try cursor.next() {
                values.removeAll(keepingCapacity: true)
                for index in 0..<row.count { values.append(ExportValue(row[index] as DatabaseValue)) }
                try writer.row(values)
            }
            return try writer.end()
        }
    }

    /// The size of the chunks handed to the writer.
    static let chunkSize = ExportWriter.chunkSize

    /// The shortest decimal text that reads back as `number` (Swift's `description`, valid
    /// JSON: `0.1`, `1e-05`, `2.5e+20`); nil when it is not finite.
    static func realText(_ number: Double) -> String? {
        number.isFinite ? "\(number)" : nil
    }
}

/// One exported value, as either engine gives it: the one typing that makes the bytes equal.
enum ExportValue: Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)

    /// SQLite's value by its storage class (a blob as its bytes read as UTF-8).
    init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case .int64(let number): self = .integer(number)
        case .double(let number): self = .real(number)
        case .string(let string): self = .text(string)
        case .blob(let data): self = .text(String(decoding: data, as: UTF8.self))
        }
    }

    /// A PostgreSQL value from its text and its column's type OID: int2/4/8 (and oid) →
    /// integer; bool → 1 / 0 (SQLite's flags); float4/8 → real (PostgreSQL 12+ sends the
    /// shortest text that reads back as the same double); numeric → integer when it has no
    /// fraction or exponent (what `sum` of integers gives: SQLite's sum is an integer), else
    /// real; everything else → text as sent. A value that does not parse as its type is kept
    /// as text rather than trapping.
    init(postgres text: String?, type: UInt32) {
        guard let text else {
            self = .null
            return
        }
        switch type {
        case PostgresQueries.TypeOID.int2, PostgresQueries.TypeOID.int4, PostgresQueries.TypeOID.int8,
            PostgresQueries.TypeOID.oid:
            self = Int64(text).map { .integer($0) } ?? .text(text)
        case PostgresQueries.TypeOID.bool:
            self = .integer(text == "t" ? 1 : 0)
        case PostgresQueries.TypeOID.float4, PostgresQueries.TypeOID.float8:
            self = Double(text).map { .real($0) } ?? .text(text)
        case PostgresQueries.TypeOID.numeric:
            if !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let number = Int64(text) {
                self = .integer(number)
            } else {
                self = Double(text).map { .real($0) } ?? .text(text)
            }
        default:
            self = .text(text)
        }
    }
}

/// The formats' one writer: the header, each row, the end; text collected and handed to
/// `write` in chunks of about 64 KiB.
struct ExportWriter {
    let format: ExportFormat
    let forTerminal: Bool
    let columns: [String]
    private let keys: [String]
    private let write: (Data) throws -> Void
    private var buffer = Data()
    private var count = 0

    /// The size of the chunks handed to the writer.
    static let chunkSize = 65_536

    init(columns: [String], format: ExportFormat, forTerminal: Bool, write: @escaping (Data) throws -> Void) {
        self.format = format
        self.forTerminal = forTerminal
        self.columns = columns.map { forTerminal ? TerminalText.escape($0) : $0 }
        self.keys = self.columns.map(JSONText.string)
        self.write = write
        buffer.reserveCapacity(2 * Self.chunkSize)
    }

    private func text(_ string: String) -> String { forTerminal ? TerminalText.escape(string) : string }

    private mutating func flush() throws {
        guard !buffer.isEmpty else { return }
        try write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    private mutating func append(_ piece: String) throws {
        buffer.append(contentsOf: piece.utf8)
        if buffer.count >= Self.chunkSize { try flush() }
    }

    mutating func begin() throws {
        switch format {
        case .csv: try append(columns.map(ReportRenderer.csvField).joined(separator: ",") + "\n")
        case .json: try append("[")
        case .ndjson: break
        }
    }

    mutating func row(_ values: [ExportValue]) throws {
        var line = ""
        switch format {
        case .csv:
            for index in 0..<columns.count {
                if index > 0 { line += "," }
                line += ReportRenderer.csvField(csvText(index < values.count ? values[index] : .null))
            }
            line += "\n"
        case .json, .ndjson:
            if format == .json { line += count == 0 ? "\n  " : ",\n  " }
            line += "{"
            for index in 0..<columns.count {
                if index > 0 { line += ", " }
                line += keys[index] + ": " + jsonText(index < values.count ? values[index] : .null)
            }
            line += format == .json ? "}" : "}\n"
        }
        try append(line)
        count += 1
    }

    /// Ends the output; returns the number of rows written.
    mutating func end() throws -> Int {
        if format == .json { try append(count == 0 ? "]\n" : "\n]\n") }
        try flush()
        return count
    }

    /// A value as CSV text: integers in decimal, reals in the shortest form that reads back
    /// as the same number, NULL empty.
    func csvText(_ value: ExportValue) -> String {
        switch value {
        case .null: ""
        case .integer(let number): String(number)
        case .real(let number): TableExport.realText(number) ?? ""
        case .text(let string): text(string)
        }
    }

    /// A value as JSON: numbers as numbers (a non-finite real as `null`), NULL as `null`.
    func jsonText(_ value: ExportValue) -> String {
        switch value {
        case .null: "null"
        case .integer(let number): String(number)
        case .real(let number): TableExport.realText(number) ?? "null"
        case .text(let string): JSONText.string(text(string))
        }
    }
}
