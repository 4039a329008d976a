import Foundation
import Logging
import PodpipeRules

/// Refreshes gold (SPEC §5) on a PostgreSQL server: set-based SQL on the server
/// (`SQL/postgres/gold/`), in one transaction of its own (readers see the old gold or the
/// new one, never half), under the transaction-level advisory lock
/// (``PostgresLockKey/goldRefresh``) so that exactly one refresh runs at a time across every
/// host. podpiped calls it through ``PostgresGoldRefreshing`` after a pass.
///
/// - Incremental (new silver events since the event-id watermark, and changed reference
///   rows): `refresh_reference` (when the change log `gold_reference_change`, filled by
///   triggers on `silver_user` / `silver_episode`, is not empty) moves only the changed
///   users' and episodes' contributions, as SQLite's `refresh_10_reference`; then
///   `refresh_batch` groups the events with `watermark < event_id <= max(event_id)` by
///   (day, user, episode), and `refresh_events` probes those keys against gold and folds
///   them in (cost: the new events, the changed members, and the gold rows of their keys).
/// - Full (first refresh, silver shrank or `silver.generation` changed, or forced):
///   `refresh_reset` empties gold and rebuilds the reference snapshots, then the same
///   `refresh_batch` + `refresh_events` fold in all of silver as one batch: the full rebuild
///   and the incremental refresh are one SQL.
/// - Both: `refresh_dim_date`, then the answer models rebuild the small answer tables, and
///   `pipeline_state` records the same `gold.*` keys as SQLite's refresher.
///
/// Silver writes take the same advisory lock shared (a trigger of migration 0002), so the
/// refresh waits for file transactions in flight on any host and sees silver frozen: the
/// watermark never passes an event that another host commits later.
struct PostgresGoldRefresher: Sendable {
    /// Seconds one refresh statement may take (a full rebuild of a large silver is one
    /// statement per step).
    var statementTimeout: Double = 600

    /// True when silver changed since the last refresh (or gold was never refreshed).
    static func isStale(_ connection: PostgresConnection) throws -> Bool {
        try plan(read(connection), forceFull: false) != .none
    }

    /// Brings gold up to date with silver, in a transaction of its own on `connection`
    /// (which must not be inside one). Does nothing (mode `none`, no write) when silver did
    /// not change.
    ///
    /// - Throws: ``PostgresError`` (the transaction is rolled back: gold stays as it was).
    @discardableResult
    func refresh(_ connection: PostgresConnection, now: Date, forceFull: Bool = false) throws
        -> GoldRefreshSummary
    {
        let started = DispatchTime.now().uptimeNanoseconds
        try connection.execute("BEGIN")
        do {
            try connection.query(
                "SELECT pg_advisory_xact_lock($1, $2)",
                [String(PostgresLockKey.namespace), String(PostgresLockKey.goldRefresh)],
                timeout: statementTimeout)
            let summary = try refreshLocked(connection, now: now, forceFull: forceFull, started: started)
            try connection.execute("COMMIT", timeout: statementTimeout)
            return summary
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// The refresh inside the caller's transaction on `connection` (`podpipectl revalidate`
    /// rebuilds gold in the transaction that rewrote silver): takes the same advisory lock
    /// (a no-op when the transaction holds it already); the caller commits or rolls back.
    func refreshInTransaction(_ connection: PostgresConnection, now: Date, forceFull: Bool) throws
        -> GoldRefreshSummary
    {
        let started = DispatchTime.now().uptimeNanoseconds
        try connection.query(
            "SELECT pg_advisory_xact_lock($1, $2)",
            [String(PostgresLockKey.namespace), String(PostgresLockKey.goldRefresh)],
            timeout: statementTimeout)
        return try refreshLocked(connection, now: now, forceFull: forceFull, started: started)
    }

    private func refreshLocked(
        _ connection: PostgresConnection, now: Date, forceFull: Bool, started: UInt64
    ) throws -> GoldRefreshSummary {
        let state = try Self.read(connection)
        let mode = Self.plan(state, forceFull: forceFull)
        let referenceChanged =
            mode == .full || state.referenceChangesPending
            || state.referenceVersion != state.seenReferenceVersion
        var summary = GoldRefreshSummary(
            mode: mode, newEvents: 0, durationMs: 0,
            fromEventId: mode == .full ? 0 : (state.watermark ?? 0),
            toEventId: state.maxEventId, referenceChanged: referenceChanged,
            generation: state.generation, referenceVersion: state.referenceVersion)
        guard mode != .none else {
            summary.toEventId = state.watermark ?? 0
            summary.durationMs = GoldRefresher.elapsedMs(since: started)
            return summary
        }
        if mode == .full {
            try run(connection, "refresh_reset")
        } else if referenceChanged {
            try run(connection, "refresh_reference")
        }
        try run(connection, "batch_table")
        try connection.query(
            try SQLResource.load("postgres/gold", "refresh_batch"),
            [
                String(summary.fromEventId), String(state.maxEventId),
                String(EventValidator.maxDurationSeconds), String(Timestamps.latestSupported),
            ], timeout: statementTimeout)
        let counted = try connection.query(
            "SELECT COALESCE(SUM(events), 0) FROM gold_tmp_triple", timeout: statementTimeout
        ).scalar
        summary.newEvents = counted.flatMap { Int($0) } ?? 0
        try run(connection, "refresh_events")
        // After a reference change dim_date is fitted to the new span (it may narrow: a
        // corrected signup date), as SQLite's GoldRefresher.fitCalendar.
        if referenceChanged { try connection.query("DELETE FROM dim_date", timeout: statementTimeout) }
        try connection.query(
            try SQLResource.load("postgres/gold", "refresh_dim_date"), [referenceChanged ? "true" : "false"],
            timeout: statementTimeout)
        FaultInjection.reach(.goldRefresh)
        try rebuildAnswers(connection)

        summary.durationMs = GoldRefresher.elapsedMs(since: started)
        let values: [(PipelineStateKey, String)] = [
            (.goldWatermark, String(state.maxEventId)),
            (.goldSeenGeneration, state.generation),
            (.goldSeenReferenceVersion, state.referenceVersion),
            (.goldRefreshedAt, GoldClock.iso8601(now)),
            (.goldLastMode, summary.mode.rawValue),
            (.goldLastNewEvents, String(summary.newEvents)),
            (.goldLastDurationMs, String(summary.durationMs)),
        ]
        for (key, value) in values {
            try connection.query(
                """
                INSERT INTO pipeline_state (key, value) VALUES ($1, $2)
                ON CONFLICT (key) DO UPDATE SET value = excluded.value
                """, [key.rawValue, value], timeout: statementTimeout)
        }
        return summary
    }

    /// The answer tables rebuilt from their models (`SQL/postgres/gold/`), as SQLite's
    /// ``GoldRefresher/answers``.
    private func rebuildAnswers(_ connection: PostgresConnection) throws {
        for answer in GoldRefresher.answers {
            let model = try SQLResource.load("postgres/gold", answer.model)
            try connection.query("DELETE FROM \(answer.table)", timeout: statementTimeout)
            // The top-episodes model takes the window's end ($1; NULL: the latest event day).
            try connection.query(
                "INSERT INTO \(answer.table) (\(answer.columns))\n\(model)\n",
                model.contains("$1") ? [nil] : [], timeout: statementTimeout)
        }
        try run(connection, "gold_multi_episode_users")
    }

    private func run(_ connection: PostgresConnection, _ step: String) throws {
        try connection.execute(try SQLResource.load("postgres/gold", step), timeout: statementTimeout)
    }

    /// The refresh state: `pipeline_state`'s silver and gold keys, the largest event id, and
    /// whether reference changes are pending.
    static func read(_ connection: PostgresConnection) throws -> GoldState.Snapshot {
        let keys: [PipelineStateKey] = [
            .silverGeneration, .silverReferenceVersion, .goldWatermark, .goldSeenGeneration,
            .goldSeenReferenceVersion,
        ]
        let rows = try connection.query(
            "SELECT key, value FROM pipeline_state WHERE key = ANY($1::text[])",
            ["{" + keys.map(\.rawValue).joined(separator: ",") + "}"]
        ).rows
        var values: [String: String] = [:]
        for row in rows where row.count == 2 {
            if let key = row[0], let value = row[1] { values[key] = value }
        }
        let facts = try connection.query(
            """
            SELECT (SELECT COALESCE(MAX(event_id), 0) FROM silver_event),
                   EXISTS (SELECT 1 FROM gold_reference_change)
            """
        ).rows.first
        let maxEventId = facts?.first.flatMap { $0 }.flatMap { Int64($0) } ?? 0
        let pending = facts.map { $0.count > 1 && $0[1] == "t" } ?? false
        return GoldState.Snapshot(
            generation: values[PipelineStateKey.silverGeneration.rawValue] ?? "0",
            referenceVersion: values[PipelineStateKey.silverReferenceVersion.rawValue] ?? "0",
            seenGeneration: values[PipelineStateKey.goldSeenGeneration.rawValue],
            seenReferenceVersion: values[PipelineStateKey.goldSeenReferenceVersion.rawValue],
            watermark: values[PipelineStateKey.goldWatermark.rawValue].flatMap { Int64($0) },
            maxEventId: maxEventId, referenceChangesPending: pending)
    }

    /// SQLite's plan (``GoldState/Snapshot/plan(forceFull:fullRebuildMinimum:)``), but a
    /// large backlog alone never rebuilds (both paths are the same set-based SQL).
    static func plan(_ state: GoldState.Snapshot, forceFull: Bool) -> GoldRefreshMode {
        state.plan(forceFull: forceFull)
    }
}

extension PostgresGoldRefresher: PostgresGoldRefreshing {
    /// The writer's hook: refreshes on the store's live connection; nil when gold was current.
    func refreshIfStale(_ store: PostgresStore, force: Bool, logger: Logger) throws -> GoldRefreshSummary? {
        let summary = try refresh(store.live(), now: Date(), forceFull: force)
        return summary.mode == .none ? nil : summary
    }
}
