import GRDB

/// The engine a store runs on. Only the read seam's conformances and ``SQLResource/load(_:_:for:)``
/// (which `.sql` file a query reads) look at it.
enum StoreEngine: String, Sendable, Equatable {
    /// The embedded default: one file, one writer (GRDB).
    case sqlite
    /// A PostgreSQL server (libpq), shared by several hosts.
    case postgresql
}

/// The read seam: what the reports (and status on a server) need of a store — run one
/// SELECT with bound parameters and get its rows as typed ``ReportValue``s. Written once
/// above it: the report catalogue, its checks and the renderer; below it, per engine:
/// ``SQLiteQueries`` (GRDB, inside a read transaction the caller opens) and
/// `PostgresQueries` (libpq).
///
/// Parameters are positional: `$1`, `$2`… in PostgreSQL's SQL; in SQLite's, the n-th
/// parameter of the statement (`?`, `:name` or `$1`) gets the n-th value.
/// A value's type comes from the engine's own type of the column: integers →
/// ``ReportValue/integer(_:)``, reals → ``ReportValue/real(_:decimals:)`` with
/// ``Reports/realDecimals``, text → ``ReportValue/text(_:)``, NULL → ``ReportValue/null``, so
/// that both engines render the same text in every format.
protocol QueryRunner {
    /// Which engine runs the SQL (which `.sql` file to read).
    var engine: StoreEngine { get }

    /// Runs one SELECT with `parameters` bound in order and returns its columns and rows.
    func table(_ sql: String, _ parameters: [ReportValue]) throws -> ReportTable

    /// Whether a table or view of that name exists (an old database may predate gold).
    func relationExists(_ name: String) throws -> Bool
}

extension QueryRunner {
    /// The first value of the first row, or nil without rows.
    func scalar(_ sql: String, _ parameters: [ReportValue] = []) throws -> ReportValue? {
        try table(sql, parameters).rows.first?.first
    }

    /// `pipeline_state`'s value for `key`, or nil when unset.
    func pipelineState(_ key: PipelineStateKey) throws -> String? {
        guard
            case .text(let value) = try scalar(
                "SELECT value FROM pipeline_state WHERE key = $1", [.text(key.rawValue)])
        else { return nil }
        return value
    }

    /// A named resource `SQL/<subdirectory>/<name>.sql` as this engine reads it.
    func resource(_ subdirectory: String, _ name: String) throws -> String {
        try SQLResource.load(subdirectory, name, for: engine)
    }
}

extension SQLResource {
    /// The `.sql` file of a query for `engine`: SQLite's is `SQL/<subdirectory>/<name>.sql`,
    /// PostgreSQL's `SQL/postgres/<subdirectory>/<name>.sql` beside it (same grain and
    /// definition, in PostgreSQL's dialect; its header says what differs).
    static func load(_ subdirectory: String, _ name: String, for engine: StoreEngine) throws -> String {
        switch engine {
        case .sqlite: try load(subdirectory, name)
        case .postgresql: try load("postgres/\(subdirectory)", name)
        }
    }
}

/// The read seam over SQLite: a GRDB connection inside the caller's read (or write)
/// transaction, so that several queries see one snapshot.
struct SQLiteQueries: QueryRunner {
    let db: Database

    var engine: StoreEngine { .sqlite }

    func table(_ sql: String, _ parameters: [ReportValue]) throws -> ReportTable {
        try Reports.table(db, sql: sql, arguments: Self.arguments(parameters))
    }

    /// The parameters as GRDB's arguments, in order.
    static func arguments(_ parameters: [ReportValue]) -> StatementArguments {
        StatementArguments(
            parameters.map { value -> (any DatabaseValueConvertible)? in
                switch value {
                case .null: nil
                case .integer(let number): number
                case .real(let number, _): number
                case .text(let text): text
                }
            })
    }

    func relationExists(_ name: String) throws -> Bool {
        try db.tableExists(name) || db.viewExists(name)
    }
}

extension ReportValue {
    /// The integer, or nil for any other value.
    var int64Value: Int64? {
        if case .integer(let number) = self { return number }
        return nil
    }

    /// The text, or nil for any other value.
    var stringValue: String? {
        if case .text(let text) = self { return text }
        return nil
    }
}
