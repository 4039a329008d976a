import Foundation
import Logging

/// The gold refresh on PostgreSQL, called by the PostgreSQL writer after a pass and by the
/// daemon when gold is due (the read side builds it: gold's tables and SQL on the server).
/// Refreshes when silver changed (or in full with `force`), in one transaction, under the
/// advisory lock that lets one refresh run at a time across hosts; nil when gold was current.
protocol PostgresGoldRefreshing: Sendable {
    func refreshIfStale(_ store: PostgresStore, force: Bool, logger: Logger) throws -> GoldRefreshSummary?
}

/// No gold refresh (silver is loaded; gold waits for the read side's refresher).
struct NoPostgresGoldRefresh: PostgresGoldRefreshing {
    func refreshIfStale(_ store: PostgresStore, force: Bool, logger: Logger) throws -> GoldRefreshSummary? {
        nil
    }
}

enum PostgresGold {
    /// The refresher podpiped uses on PostgreSQL: the one place it is chosen.
    static let refresher: any PostgresGoldRefreshing = PostgresGoldRefresher()
}

/// What the writer does not do on PostgreSQL yet, refused with its exit code (78: a
/// configuration this version cannot serve) and what to do instead.
enum PostgresNotYet: Error, CustomStringConvertible, Equatable, ExitCoded {
    /// A setting or command that needs the SQLite store.
    case unsupported(what: String, instead: String)

    var description: String {
        switch self {
        case .unsupported(let what, let instead):
            "\(what) is not yet on PostgreSQL (it works on a SQLite database); \(instead)"
        }
    }

    var exitCode: Int32 { PodpipeExit.configuration }
}

/// The one writer of a drop folder into a PostgreSQL database: a session-level advisory lock
/// per (host, drop folder) instead of SQLite's `flock` (hosts each run their own podpiped
/// on their own folders, all into one database), the store, the ingest pass (unchanged above
/// ``IngestStore``) and the gold refresh through ``PostgresGoldRefreshing``.
///
/// The lock lives with the connection: when the server drops it (a restart), the store
/// connects again and takes the lock again before anything else; if another podpiped took it
/// meanwhile, this one stops (`PipelineError.anotherWriter`).
final class PostgresWriterSession: IngestWriter, @unchecked Sendable {
    let store: PostgresStore
    let logger: Logger
    let gold: any PostgresGoldRefreshing

    init(store: PostgresStore, logger: Logger, gold: any PostgresGoldRefreshing = PostgresGold.refresher) {
        self.store = store
        self.logger = logger
        self.gold = gold
    }

    /// Connects, migrates, and takes the writer lock of (this host, `dataLoad`).
    /// - Throws: `PipelineError.anotherWriter` when another podpiped holds it.
    static func open(uri: String, dataLoad: String, logger: Logger) throws -> PostgresWriterSession {
        let store = try PostgresStore.open(uri: uri, logger: logger)
        store.scope = LedgerScope(host: DaemonLiveness.hostName(), dataLoad: dataLoad)
        store.writerLock = PostgresLockKey.writer(store.scope)
        try store.takeWriterLock(store.connection)
        return PostgresWriterSession(store: store, logger: logger)
    }

    /// The ingest pass, its settled files announced to the after-commit stage
    /// (`settings.afterCommit`: move, delete; nothing follows in `keep` mode).
    func pipeline(_ settings: PipelineSettings, shouldStop: @escaping @Sendable () -> Bool) -> Pipeline {
        Pipeline(
            store: store, settings: settings, logger: logger, shouldStop: shouldStop,
            observer: AfterCommitStage.following(settings, store: store, logger: logger))
    }

    func runOnce(_ pipeline: Pipeline, ignoreBackoff: Bool, refreshGold: Bool) throws -> PassSummary {
        var summary = try pipeline.ingestPending(ignoreBackoff: ignoreBackoff)
        if refreshGold { summary.gold = try refreshGoldIfStale(force: false) }
        return summary
    }

    func recordPass(at date: Date) throws {
        try PostgresPipelineState.set(.lastPassAt, ISOTime.format(date), store.live())
    }

    func refreshGoldIfStale(force: Bool) throws -> GoldRefreshSummary? {
        _ = try store.live()
        return try gold.refreshIfStale(store, force: force, logger: logger)
    }

    func goldRefreshedAt() throws -> String? {
        try PostgresPipelineState.get(.goldRefreshedAt, store.live())
    }

    func nextRetryAt() throws -> String? {
        try PostgresLedger.nextRetryAt(store.scope, store.live())
    }

    func writeDaemonState(_ record: DaemonStateRecord, lastPass: String?) throws {
        _ = try store.transaction { connection in
            try PostgresDaemonState.save(record, connection)
            if let lastPass { try PostgresPipelineState.set(.lastPassAt, lastPass, connection) }
        }
    }

    func recordWaiting(_ count: Int) throws {
        try StatusReport.recordWaiting(count, store.scope, store.live())
    }

    /// The textfile of the warehouse as this writer sees it: `podpipectl metrics` on this
    /// host and folder (the warehouse's totals, this host's daemon and folder).
    func exportMetrics(_ exporter: MetricsExporter, config: PodpipeConfig) {
        let store = store
        exporter.export(config: config) {
            let connection = try store.live()
            return try MetricsSnapshot.gather(postgres: connection, config: config) { folder in
                try PostgresLedger.latestByName(
                    LedgerScope(host: store.scope.host, dataLoad: folder), connection)
            }
        }
    }

    func maintenanceMailbox(database: String) -> MaintenanceMailbox? { nil }

    /// Never called: podpipectl runs maintenance commands on PostgreSQL itself
    /// (``MaintenanceCommand/run(onPostgreSQL:dataLoad:now:)``), there is no mailbox. Runs
    /// the command here all the same.
    func runMaintenance(
        _ command: MaintenanceCommand, now: Date, pruner: inout BronzePruner?, budget: Double?
    ) throws -> MaintenanceResult? {
        try command.run(on: self, now: now, pruner: &pruner, budget: budget)
    }
}
