/// The database `podpipectl files` and `rejects` read (and shell completion, the ledger's
/// names): a SQLite store, each command in one read transaction, or a PostgreSQL
/// warehouse, each command in one read-only snapshot. The queries are the same procedure
/// (``Inspect`` over the read seam, ``QueryRunner``); only their `.sql` files differ.
public enum InspectedDatabase {
    /// A SQLite file opened read-only (``Store/openForReading(path:)``).
    case sqlite(Store)
    /// A PostgreSQL warehouse (``Warehouse/open(_:)``): every host's ledger.
    case postgresql(Warehouse)

    /// The database `config.database` names: the PostgreSQL warehouse of a `postgresql://`
    /// URI, else the SQLite file opened read-only.
    ///
    /// - Parameter timeout: a server's deadline per call, in seconds.
    /// - Throws: ``PostgresError`` when the server cannot be reached in time; `StoreError`
    ///   for a missing, foreign or newer SQLite database.
    public static func open(_ config: PodpipeConfig, timeout: Double = 30) throws -> InspectedDatabase {
        if let warehouse = try Warehouse.open(config, timeout: timeout) { return .postgresql(warehouse) }
        return .sqlite(try Store.openForReading(path: config.database))
    }

    /// The ledger, newest first (``Inspect/files(_:in:)``).
    public func files(_ filter: LedgerFilter) throws -> ReportTable {
        try read { try Inspect.files(filter, $0) }
    }

    /// Rejected rows, newest file first, then line (``Inspect/rejects(_:in:)``).
    public func rejects(_ filter: RejectFilter) throws -> ReportTable {
        try read { try Inspect.rejects(filter, $0) }
    }

    /// Rejected rows counted by (kind, code) and by file (``Inspect/rejectSummary(_:in:)``),
    /// both from one snapshot.
    public func rejectSummary(_ filter: RejectFilter) throws -> (byCode: ReportTable, byFile: ReportTable) {
        try read { try Inspect.rejectSummary(filter, $0) }
    }

    /// The ledger's distinct file names, in byte order.
    public func fileNames() throws -> [String] {
        try read { try Inspect.fileNames($0) }
    }

    /// Runs `body` on one snapshot of the database.
    private func read<T>(_ body: (any QueryRunner) throws -> T) throws -> T {
        switch self {
        case .sqlite(let store): try store.pool.read { db in try body(SQLiteQueries(db: db)) }
        case .postgresql(let warehouse): try warehouse.snapshot { try body($0) }
        }
    }
}
