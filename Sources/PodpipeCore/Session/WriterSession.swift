import Foundation
import GRDB
import Logging

/// The one writer of a database (SPEC §6): the writer lock, the store opened for writing,
/// and the stages that write — the ingest pass and the gold refresh, with the gold prefetch
/// listening to the ingest. `podpiped` (the daemon and `--once`) and the maintenance
/// commands (`reprocess`, `revalidate`, `refresh`) each open one, the same way.
public final class WriterSession: @unchecked Sendable {
    let store: Store
    /// Held for the session's lifetime (nil: a test's store, no lock).
    let lock: WriterLock?
    let logger: Logger
    /// The next incremental gold batch, or the full rebuild's aggregates, gathered while
    /// event files load.
    let goldPrefetch: GoldPrefetch
    /// How gold is refreshed (chunk size, full-rebuild threshold, spill size).
    let gold: GoldRefresher

    /// - Parameters:
    ///   - goldPrefetchLimit: the most events gathered for the next incremental refresh (the
    ///     refresher's chunk size; tests make it small).
    ///   - gold: the refresher's settings (tests make its thresholds small).
    init(
        store: Store, lock: WriterLock? = nil, logger: Logger = Logger(label: "podpipe"),
        goldPrefetchLimit: Int = GoldRefresher().chunkSize, gold: GoldRefresher = GoldRefresher()
    ) {
        self.store = store
        self.lock = lock
        self.logger = logger
        self.gold = gold
        goldPrefetch = GoldPrefetch(
            reader: store.pool, limit: goldPrefetchLimit, fullRebuildMinimum: gold.fullRebuildMinimum,
            rebuildSpillEntries: min(32_768, gold.fullRebuildSpillEntries))
    }

    /// Takes the writer lock, then opens (creating it when `create`) the database.
    ///
    /// - Throws: `PipelineError.anotherWriter` when another process holds the lock;
    ///   `StoreError` for a database that is missing (without `create`), foreign or newer.
    static func open(database: String, create: Bool, logger: Logger) throws -> WriterSession {
        if !create {
            // The read-only checks first: a missing file is not created, a newer schema is
            // refused before anything is written.
            _ = try Store.openForReading(path: database)
        }
        let lock = try WriterLock.acquire(database: database)
        let store = try Store.openForWriting(path: database)
        return WriterSession(store: store, lock: lock, logger: logger)
    }

    /// The ingest pass over `settings.dataLoad`, its rows announced to the gold prefetch and
    /// its settled files to the after-commit stage (`settings.afterCommit`: move, delete or
    /// keep). `shouldStop` is asked between files and every few thousand lines.
    func pipeline(
        _ settings: PipelineSettings, shouldStop: @escaping @Sendable () -> Bool = { false }
    ) -> Pipeline {
        let observer: any IngestObserver =
            AfterCommitStage.following(settings, store: store, logger: logger).map {
                IngestObservers([goldPrefetch, $0])
            } ?? goldPrefetch
        return Pipeline(
            store: store, settings: settings, logger: logger, shouldStop: shouldStop, observer: observer)
    }

    /// One pass: ingest everything pending, then refresh gold if silver changed.
    func runOnce(_ pipeline: Pipeline, ignoreBackoff: Bool = true, refreshGold: Bool = true)
        throws -> PassSummary
    {
        var summary = try pipeline.ingestPending(ignoreBackoff: ignoreBackoff)
        if refreshGold {
            summary.gold = try refreshGoldIfStale()
        }
        return summary
    }

    /// Records that a pass completed now (`ingest.last_pass_at`, for `status`'s health and
    /// the metrics): `podpiped --once` after its pass; the daemon writes it with its
    /// heartbeat instead (a pass every second in poll mode is not worth a transaction each).
    func recordPass(at date: Date = Date()) throws {
        try store.pool.write { db in try PipelineState.set(.lastPassAt, ISOTime.format(date), db) }
    }

    /// Refreshes gold in one transaction when silver changed since the last refresh (or in
    /// full with `force`); nil when gold was current.
    func refreshGoldIfStale(force: Bool = false) throws -> GoldRefreshSummary? {
        try takeOwedWait(forceFull: force)
        return try store.pool.write { db -> GoldRefreshSummary? in
            let stale = try GoldRefresher.isStale(db)
            guard force || stale else { return nil }
            return try refresh(db, forceFull: force)
        }
    }

    /// Brings gold up to date now (`podpipectl refresh`): incrementally when silver
    /// changed, in full with `full`, not at all (mode `none`) when gold is current.
    func refreshGold(full: Bool) throws -> GoldRefreshSummary {
        try takeOwedWait(forceFull: full)
        return try store.pool.write { db in try refresh(db, forceFull: full) }
    }

    /// The pass's last commit did not wait for its checkpoint (``WALCheckpointer``): a full
    /// rebuild runs beside it, anything else waits for it first, before its transaction
    /// begins (an incremental refresh beside the copy measured slower: +100k onto the
    /// seed-shaped 5M, 3.47 against 3.20 s).
    private func takeOwedWait(forceFull: Bool) throws {
        guard let checkpointer = store.checkpointer, checkpointer.owesAWait else { return }
        let plan = try store.pool.read { db in
            try GoldState.read(db).plan(
                forceFull: forceFull, fullRebuildMinimum: gold.fullRebuildMinimum)
        }
        if plan != .full { checkpointer.takeOwedWait() }
    }

    /// The refresh, in the caller's transaction, which leaves silver alone: a full rebuild
    /// may scan silver through a reader of the pool while this connection writes.
    private func refresh(_ db: Database, forceFull: Bool) throws -> GoldRefreshSummary {
        var refresher = gold
        refresher.scanReader = store.pool
        refresher.prefetch = goldPrefetch
        let result = try refresher.refresh(db, now: Date(), forceFull: forceFull)
        guard result.mode != .none else { return result }
        // batch: gathered (the incremental batch or the full rebuild's aggregates came from
        // the loads, GoldPrefetch) or scanned (read from silver).
        let metadata: Logger.Metadata = [
            "mode": "\(result.mode.rawValue)", "new_events": "\(result.newEvents)",
            "duration_ms": "\(result.durationMs)", "batch": "\(result.gathered ? "gathered" : "scanned")",
        ]
        logger.info("gold refreshed", metadata: LogEventKind.goldRefreshed.metadata(metadata))
        return result
    }
}
