import Foundation
import GRDB
import Logging

/// What the maintenance procedures (``Reprocessor``, ``ReferenceReplay``, ``BronzePruner``,
/// ``Revalidator``) need of a store inside the command's transaction: the read seam
/// (``QueryRunner``: SELECTs with positional `$1`… parameters, the engine's `.sql` files) and
/// the writes. The procedures are written once above it; below it, per engine:
/// ``SQLiteQueries`` (GRDB, in the writer's transaction) and ``PostgresQueries`` (libpq, in
/// the command's transaction on the server).
protocol MaintenanceDatabase: QueryRunner {
    /// The names the command may designate: nil on SQLite (the database is one drop folder),
    /// this host's drop folder on PostgreSQL (a name is a name in one folder of one host).
    var nameScope: LedgerScope? { get }

    /// Runs one statement with `parameters` bound in order; returns the rows it changed.
    @discardableResult
    func execute(_ sql: String, _ parameters: [ReportValue]) throws -> Int64

    /// Runs a script of statements separated by semicolons, without parameters.
    func executeScript(_ sql: String) throws

    /// Holds back every other writer of silver until the transaction ends. SQLite: nothing
    /// to do (the writer's transaction is the only one); PostgreSQL: the gold refresh's
    /// advisory lock, exclusive (every statement writing silver takes it shared:
    /// migration 0002), so file transactions of other hosts in flight commit first and new
    /// ones wait.
    func holdSilverWriters() throws

    /// `pipeline_state`'s value for `key` set to `value`.
    func setState(_ key: PipelineStateKey, _ value: String?) throws

    /// `pipeline_state`'s counter `key` plus one.
    func incrementState(_ key: PipelineStateKey) throws

    /// Rebuilds gold in full inside the transaction (``Revalidator``).
    func rebuildGold(now: Date) throws -> GoldRefreshSummary

    /// `revalidate`'s scan of bronze with the engine's bulk path (the per-row decisions are
    /// ``Revalidator``'s, shared).
    func scanBronzeEvents(_ revalidator: Revalidator, counts: inout [Int64: FileLoadCounts]) throws
        -> Revalidator.ScanTally
}

/// A writer that maintenance commands run on: one transaction at a time over a
/// ``MaintenanceDatabase``, and the gold refresh of `podpipectl refresh`. SQLite's is the
/// ``WriterSession`` (the `flock` held); PostgreSQL's is ``PostgresWriterSession`` opened by
/// podpipectl without a folder's writer lock (``PostgresWriterSession/forMaintenance``).
protocol MaintenanceWriter: AnyObject {
    /// Runs `body` in one write transaction: committed when it returns `commit: true`,
    /// rolled back otherwise or when it throws.
    func maintenanceTransaction<Result>(
        _ body: (any MaintenanceDatabase) throws -> (result: Result, commit: Bool)
    ) throws -> Result

    /// Brings gold up to date now: incrementally, in full with `full`, mode `none` when
    /// gold is current.
    func refreshGold(full: Bool) throws -> GoldRefreshSummary

    /// When gold was last refreshed (`gold.refreshed_at`), nil if never.
    func goldRefreshedAt() throws -> String?
}

extension MaintenanceWriter {
    /// Runs `body` in one write transaction, committed when it returns.
    func write<Result>(_ body: (any MaintenanceDatabase) throws -> Result) throws -> Result {
        try maintenanceTransaction { db in (try body(db), true) }
    }
}

// MARK: - SQLite

extension SQLiteQueries: MaintenanceDatabase {
    var nameScope: LedgerScope? { nil }

    @discardableResult
    func execute(_ sql: String, _ parameters: [ReportValue]) throws -> Int64 {
        try db.cachedStatement(sql: sql).execute(arguments: Self.arguments(parameters))
        return Int64(db.changesCount)
    }

    func executeScript(_ sql: String) throws { try db.execute(sql: sql) }

    func holdSilverWriters() throws {}

    func setState(_ key: PipelineStateKey, _ value: String?) throws { try PipelineState.set(key, value, db) }

    func incrementState(_ key: PipelineStateKey) throws { try PipelineState.increment(key, db) }

    func rebuildGold(now: Date) throws -> GoldRefreshSummary {
        try GoldRefresher().refresh(db, now: now, forceFull: true)
    }

    func scanBronzeEvents(_ revalidator: Revalidator, counts: inout [Int64: FileLoadCounts]) throws
        -> Revalidator.ScanTally
    {
        try revalidator.scanEvents(db, counts: &counts)
    }
}

extension WriterSession: MaintenanceWriter {
    func maintenanceTransaction<Result>(
        _ body: (any MaintenanceDatabase) throws -> (result: Result, commit: Bool)
    ) throws -> Result {
        try store.pool.writeWithoutTransaction { db in
            // Scratch copies (revalidate's can be as large as silver) go to disk, not to the
            // writer's memory (the store's default is temp_store = MEMORY).
            try db.execute(sql: "PRAGMA temp_store = FILE")
            defer { try? db.execute(sql: "PRAGMA temp_store = MEMORY") }
            var result: Result?
            try db.inTransaction(.immediate) {
                let outcome = try body(SQLiteQueries(db: db))
                result = outcome.result
                return outcome.commit ? .commit : .rollback
            }
            guard let result else {
                throw PipelineError.database(message: "a maintenance transaction returned nothing", file: nil)
            }
            return result
        }
    }
}

// MARK: - PostgreSQL

/// ``PostgresQueries`` in a maintenance command's transaction, with this host's folder as
/// the scope of names.
struct PostgresMaintenanceQueries: MaintenanceDatabase {
    let queries: PostgresQueries
    let scope: LedgerScope

    var connection: PostgresConnection { queries.connection }
    var engine: StoreEngine { .postgresql }
    var nameScope: LedgerScope? { scope }

    func table(_ sql: String, _ parameters: [ReportValue]) throws -> ReportTable {
        try queries.table(sql, parameters)
    }

    func relationExists(_ name: String) throws -> Bool { try queries.relationExists(name) }

    @discardableResult
    func execute(_ sql: String, _ parameters: [ReportValue]) throws -> Int64 {
        try connection.query(sql, parameters.map(PostgresQueries.parameter), timeout: 3600).affected
    }

    func executeScript(_ sql: String) throws { try connection.execute(sql, timeout: 3600) }

    func holdSilverWriters() throws {
        try connection.query(
            "SELECT pg_advisory_xact_lock($1, $2)",
            [String(PostgresLockKey.namespace), String(PostgresLockKey.goldRefresh)], timeout: 3600)
    }

    func setState(_ key: PipelineStateKey, _ value: String?) throws {
        try PostgresPipelineState.set(key, value, connection)
    }

    func incrementState(_ key: PipelineStateKey) throws {
        try PostgresPipelineState.increment(key, connection)
    }

    func rebuildGold(now: Date) throws -> GoldRefreshSummary {
        try PostgresGoldRefresher().refreshInTransaction(connection, now: now, forceFull: true)
    }

    func scanBronzeEvents(_ revalidator: Revalidator, counts: inout [Int64: FileLoadCounts]) throws
        -> Revalidator.ScanTally
    {
        try revalidator.scanEvents(self, counts: &counts)
    }
}

extension PostgresWriterSession: MaintenanceWriter {
    /// The maintenance commands' session on PostgreSQL (`podpipectl refresh`, `reprocess`,
    /// `revalidate`, `prune`): the store, names scoped to this host's `dataLoad`, and no
    /// folder's writer lock — the server serves many writers, so podpipectl runs the command
    /// itself beside any running daemon (of this host or another), each command taking the
    /// locks it needs in its own transaction (``MaintenanceDatabase/holdSilverWriters()``).
    static func forMaintenance(uri: String, dataLoad: String, logger: Logger) throws
        -> PostgresWriterSession
    {
        let store = try PostgresStore.open(uri: uri, logger: logger)
        store.scope = LedgerScope(host: DaemonLiveness.hostName(), dataLoad: dataLoad)
        return PostgresWriterSession(store: store, logger: logger)
    }

    func maintenanceTransaction<Result>(
        _ body: (any MaintenanceDatabase) throws -> (result: Result, commit: Bool)
    ) throws -> Result {
        let connection = try store.live()
        try connection.execute("BEGIN")
        do {
            let outcome = try body(
                PostgresMaintenanceQueries(
                    queries: PostgresQueries(connection: connection), scope: store.scope))
            try connection.execute(outcome.commit ? "COMMIT" : "ROLLBACK", timeout: 3600)
            return outcome.result
        } catch {
            if connection.isOpen { _ = try? connection.execute("ROLLBACK") }
            throw error
        }
    }

    func refreshGold(full: Bool) throws -> GoldRefreshSummary {
        let summary = try PostgresGoldRefresher().refresh(store.live(), now: Date(), forceFull: full)
        if summary.mode != .none {
            logger.info(
                "gold refreshed",
                metadata: LogEventKind.goldRefreshed.metadata([
                    "mode": "\(summary.mode.rawValue)", "new_events": "\(summary.newEvents)",
                    "duration_ms": "\(summary.durationMs)",
                ]))
        }
        return summary
    }
}
