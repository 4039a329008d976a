import Foundation
import GRDB
import Logging

/// What podpiped (`--once` and the daemon's loop) needs of the one writer, whichever the
/// store: SQLite's ``WriterSession`` (a `flock` on the file) or PostgreSQL's
/// ``PostgresWriterSession`` (an advisory lock per host and drop folder). The pass, the
/// daemon's loop and their decisions are written once above it.
protocol IngestWriter: AnyObject, Sendable {
    /// The ingest pass over `settings.dataLoad` with this writer's observers.
    func pipeline(_ settings: PipelineSettings, shouldStop: @escaping @Sendable () -> Bool) -> Pipeline
    /// One pass: ingest everything pending, then refresh gold if silver changed.
    func runOnce(_ pipeline: Pipeline, ignoreBackoff: Bool, refreshGold: Bool) throws -> PassSummary
    /// Records that a pass completed at `date` (`ingest.last_pass_at`).
    func recordPass(at date: Date) throws
    /// Refreshes gold when silver changed; nil when gold was current.
    func refreshGoldIfStale(force: Bool) throws -> GoldRefreshSummary?
    /// When gold was last refreshed (`gold.refreshed_at`), nil if never.
    func goldRefreshedAt() throws -> String?
    /// The earliest `next_attempt_at` of this writer's `failed` files.
    func nextRetryAt() throws -> String?
    /// Writes the daemon's row in `daemon_state` and, with `lastPass`, `ingest.last_pass_at`.
    func writeDaemonState(_ record: DaemonStateRecord, lastPass: String?) throws
    /// Records the files waiting in the folder after a listing, where a store keeps it for
    /// other hosts' `podpipectl status` (PostgreSQL: `daemon_waiting`; SQLite:
    /// nothing, status lists the folder itself).
    func recordWaiting(_ count: Int) throws
    /// Writes the metrics textfile (`metrics.textfile`), when configured.
    func exportMetrics(_ exporter: MetricsExporter, config: PodpipeConfig)
    /// The folder where podpipectl hands maintenance commands over; nil where there is no
    /// hand-off (PostgreSQL: podpipectl runs the commands itself, beside the daemons).
    func maintenanceMailbox(database: String) -> MaintenanceMailbox?
    /// Runs a handed-over maintenance command (a turn of at most `budget` seconds).
    func runMaintenance(
        _ command: MaintenanceCommand, now: Date, pruner: inout BronzePruner?, budget: Double?
    ) throws -> MaintenanceResult?
}

extension WriterSession: IngestWriter {
    func goldRefreshedAt() throws -> String? {
        try store.pool.read { db in try GoldRefresher.refreshedAt(db) }
    }

    func nextRetryAt() throws -> String? {
        try store.pool.read { db in try Ledger.nextRetryAt(db) }
    }

    func writeDaemonState(_ record: DaemonStateRecord, lastPass: String?) throws {
        try store.pool.write { db in
            try record.save(db)
            if let lastPass { try PipelineState.set(.lastPassAt, lastPass, db) }
        }
    }

    func recordWaiting(_ count: Int) throws {}

    func exportMetrics(_ exporter: MetricsExporter, config: PodpipeConfig) {
        exporter.export(store: store, config: config)
    }

    func maintenanceMailbox(database: String) -> MaintenanceMailbox? {
        MaintenanceMailbox(database: database)
    }

    func runMaintenance(
        _ command: MaintenanceCommand, now: Date, pruner: inout BronzePruner?, budget: Double?
    ) throws -> MaintenanceResult? {
        try command.run(on: self, now: now, pruner: &pruner, budget: budget)
    }
}
