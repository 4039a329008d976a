import Foundation
import GRDB
import PodpipeRules

/// Refreshes the gold layer (SPEC §5) from silver, incrementally.
///
/// Gold is defined in `SQL/migrations/0002_gold.sql`; the refresh steps are the SQL files
/// `SQL/gold/refresh_*.sql`, which this type runs in order with bound parameters:
///
/// - Full rebuild (first refresh, `silver.generation` changed, or forced):
///   `refresh_00_reset` empties gold, `refresh_05_full` rebuilds the reference snapshots,
///   and ``GoldFullRebuild`` every event aggregate from one scan of silver (hash
///   aggregation; SQLite's GROUP BY would sort all of silver once per aggregate).
/// - Incremental: `refresh_10_reference` when `silver.reference_version` changed or the
///   change log `gold_reference_change` (filled by triggers on `silver_user` /
///   `silver_episode`) is not empty: it moves only the changed users'/episodes'
///   contributions. Then `refresh_20_events` for each chunk of silver events with
///   `watermark < event_id <= max(event_id)` (a primary-key range scan; point lookups for
///   the batch's keys only).
/// - Both: `refresh_30_dim_date` extends the calendar, and the answer models
///   (`gold_top_episodes_7d.sql`, …) rebuild the small answer tables.
///
/// The two paths are independent implementations of the same definitions; the tests check
/// that they give identical tables. Silver must be append-only between rebuilds: whoever
/// deletes or rewrites silver rows increments `silver.generation`, which forces a full
/// rebuild at the next refresh.
///
/// The caller owns the transaction: call ``refresh(_:now:forceFull:)`` inside the writer's
/// transaction (e.g. `DatabasePool.write`), so that readers see either the previous gold or
/// the new one, never half of it, and a failure rolls everything back.
struct GoldRefresher: Sendable {
    /// The most silver events folded in by one pass of `refresh_20_events` (bounds the
    /// temporary tables of a large incremental backlog).
    var chunkSize: Int

    /// A backlog of new events larger than this and than a quarter of silver is folded in by
    /// a full rebuild rather than incrementally: an incremental event costs about four times
    /// a rebuilt one (doc/performance.md), so past a quarter of silver the rebuild is cheaper.
    var fullRebuildMinimum: Int

    /// Keys the full rebuild holds in memory before writing them out (bounds its memory;
    /// see ``GoldFullRebuild``). Tests set it tiny so that every aggregate is merged.
    var fullRebuildSpillEntries: Int

    /// Where a full rebuild may read silver on a second thread while the refreshing
    /// transaction writes (see ``GoldFullRebuild``): the writer's own pool, and only when the
    /// refreshing transaction has not changed silver (it would read the last committed one).
    /// Nil: one thread.
    var scanReader: (any DatabaseReader)?

    /// The next batch gathered while the files loaded (Pipeline's), taken instead of a scan of
    /// silver when it matches the range exactly. Nil: always scan.
    var prefetch: GoldPrefetch?

    /// Creates a refresher. `chunkSize`: events per pass (default 200,000);
    /// `fullRebuildMinimum`: see ``fullRebuildMinimum`` (default 50,000).
    init(
        chunkSize: Int = 200_000, fullRebuildMinimum: Int = 50_000,
        fullRebuildSpillEntries: Int = 65_536, scanReader: (any DatabaseReader)? = nil
    ) {
        self.init(
            chunkSize: chunkSize, fullRebuildMinimum: fullRebuildMinimum,
            fullRebuildSpillEntries: fullRebuildSpillEntries, scanReader: scanReader, prefetch: nil)
    }

    init(
        chunkSize: Int = 200_000, fullRebuildMinimum: Int = 50_000,
        fullRebuildSpillEntries: Int = 65_536, scanReader: (any DatabaseReader)? = nil,
        prefetch: GoldPrefetch?
    ) {
        self.prefetch = prefetch
        self.chunkSize = max(1, chunkSize)
        self.fullRebuildMinimum = fullRebuildMinimum
        self.fullRebuildSpillEntries = max(1, fullRebuildSpillEntries)
        self.scanReader = scanReader
    }

    /// True when silver changed since the last refresh (new events, new reference data, a
    /// rebuilt silver) or gold was never refreshed. Cheap: reads `pipeline_state` and the
    /// largest `silver_event.event_id`.
    static func isStale(_ db: Database) throws -> Bool {
        let state = try GoldState.read(db)
        return state.plan(forceFull: false) != .none
    }

    /// The time of the last refresh that changed gold (`gold.refreshed_at`, ISO 8601 UTC),
    /// or nil when gold was never refreshed.
    static func refreshedAt(_ db: Database) throws -> String? {
        try PipelineState.get(.goldRefreshedAt, db)
    }

    /// Brings gold up to date with silver.
    ///
    /// Incremental (cost proportional to the new events and to the reference rows that
    /// changed) unless gold was never refreshed, `silver.generation` changed, or `forceFull`
    /// is set: then everything is rebuilt from silver. Does nothing (mode `none`, no write)
    /// when silver did not change.
    ///
    /// - Parameters:
    ///   - db: a connection inside an open write transaction.
    ///   - now: the time recorded as `gold.refreshed_at`.
    ///   - forceFull: rebuild everything even if an incremental refresh would do.
    /// - Throws: ``GoldError`` (`notInTransaction`, or `stepFailed` naming the SQL step).
    @discardableResult
    func refresh(_ db: Database, now: Date, forceFull: Bool = false) throws
        -> GoldRefreshSummary
    {
        guard db.isInsideTransaction else { throw GoldError.notInTransaction }
        GoldArithmetic.register(on: db)
        let started = DispatchTime.now().uptimeNanoseconds
        let state = try GoldState.read(db)
        let plan = state.plan(forceFull: forceFull, fullRebuildMinimum: fullRebuildMinimum)
        var summary = GoldRefreshSummary(
            mode: plan, newEvents: 0, durationMs: 0,
            fromEventId: plan == .full ? 0 : (state.watermark ?? 0),
            toEventId: state.maxEventId, referenceChanged: false,
            generation: state.generation, referenceVersion: state.referenceVersion)
        // What was gathered while the files loaded serves only the first chunk of an incremental
        // refresh, if it is exactly that chunk; the full rebuild's aggregates of the rows
        // loaded serve a full rebuild.
        var gathered: GoldBatchTables?
        var streamed: GoldFullRebuild.Stream?
        if plan == .incremental, let prefetch, let watermark = state.watermark,
            state.maxEventId - watermark <= Int64(chunkSize)
        {
            gathered = prefetch.take(after: watermark, upTo: state.maxEventId)
        } else if plan == .full, let prefetch {
            streamed = prefetch.takeRebuild(upTo: state.maxEventId, generation: state.generation)
        } else {
            prefetch?.discard()
        }
        guard plan != .none else {
            summary.toEventId = state.watermark ?? 0
            summary.durationMs = Self.elapsedMs(since: started)
            return summary
        }

        if plan == .full {
            try Self.run(db, step: "refresh_00_reset")
            try Self.run(db, step: "refresh_05_full")
            summary.gathered = streamed != nil
            let events = try GoldFullRebuild.run(
                db, spillEntries: fullRebuildSpillEntries, scanner: scanReader, streamed: streamed)
            summary.referenceChanged = true
            let span = try Self.span(db, allEvents: events)
            summary.newEvents = span.count
            try Self.extendCalendar(db, span)
        } else {
            if state.referenceVersion != state.seenReferenceVersion
                || state.referenceChangesPending
            {
                summary.referenceChanged = true
                try Self.run(db, step: "refresh_10_reference")
            }
            var from = summary.fromEventId
            while from < state.maxEventId {
                let to = min(state.maxEventId, from + Int64(chunkSize))
                let taken = to == state.maxEventId ? gathered : nil
                summary.gathered = taken != nil
                let batch = try taken ?? GoldBatch.scan(db, after: from, upTo: to)
                let span = try GoldBatch.stage(batch, db)
                summary.newEvents += span.count
                try Self.run(db, step: "refresh_20_events")
                try Self.extendCalendar(db, span)
                from = to
            }
        }
        if summary.referenceChanged { try Self.fitCalendar(db) }
        FaultInjection.reach(.goldRefresh)
        try Self.rebuildAnswers(db)

        summary.durationMs = Self.elapsedMs(since: started)
        try GoldState.write(
            db,
            [
                .goldWatermark: String(state.maxEventId),
                .goldSeenGeneration: state.generation,
                .goldSeenReferenceVersion: state.referenceVersion,
                .goldRefreshedAt: GoldClock.iso8601(now),
                .goldLastMode: summary.mode.rawValue,
                .goldLastNewEvents: String(summary.newEvents),
                .goldLastDurationMs: String(summary.durationMs),
            ])
        return summary
    }

    // MARK: - Steps

    /// The answer tables and the model (in `SQL/gold/`) each is materialized from.
    static let answers: [(table: String, columns: String, model: String)] = [
        (
            "gold_top_episodes_7d",
            "rank, episode_id, title, podcast_id, completions, episode_known, window_start, window_end",
            "gold_top_episodes_7d"
        ),
        (
            "gold_listen_through_by_country",
            "country, avg_listen_through_rate, completions",
            "gold_listen_through_by_country"
        ),
        (
            "gold_multi_episode_users_by_day",
            "day, users",
            "gold_multi_episode_users_by_day"
        ),
    ]

    /// `DELETE FROM <table>; INSERT INTO <table> (<columns>) <model>` for each answer.
    static func rebuildAnswers(_ db: Database) throws {
        for answer in answers {
            let model = try SQLResource.load("gold", answer.model)
            do {
                try db.execute(sql: "DELETE FROM \(answer.table)")
                try db.execute(
                    sql: "INSERT INTO \(answer.table) (\(answer.columns))\n\(model)\n",
                    arguments: ["as_of_day": nil as Int64?])
            } catch let error as DatabaseError {
                throw GoldError.stepFailed(step: answer.model, underlying: error)
            }
        }
    }

    static func run(_ db: Database, step: String, arguments: StatementArguments = [:]) throws {
        let sql = try SQLResource.load("gold", step)
        do {
            try db.execute(sql: sql, arguments: arguments)
        } catch let error as DatabaseError {
            throw GoldError.stepFailed(step: step, underlying: error)
        }
    }

    /// A number of silver events and their first and last UTC day.
    struct Span {
        var count: Int
        var firstDay: Int64?
        var lastDay: Int64?
    }

    /// All of silver (`count` events, counted by the full rebuild's scan): the first and last
    /// day come from the natural-key index (ts first), one seek each. (MIN and MAX in one
    /// SELECT would scan the whole index, and COUNT(*) the whole table.)
    static func span(_ db: Database, allEvents count: Int) throws -> Span {
        let sql =
            "SELECT (SELECT MIN(ts) FROM silver_event WHERE \(GoldArithmetic.silverEventInRange)) / 86400, "
            + "(SELECT MAX(ts) FROM silver_event WHERE \(GoldArithmetic.silverEventInRange)) / 86400"
        guard let row = try Row.fetchOne(db, sql: sql) else {
            return Span(count: count, firstDay: nil, lastDay: nil)
        }
        return Span(count: count, firstDay: row[0], lastDay: row[1])
    }

    /// Extends dim_date over the span's days (refresh_30_dim_date).
    static func extendCalendar(_ db: Database, _ span: Span) throws {
        guard let first = span.firstDay, let last = span.lastDay else { return }
        try run(db, step: "refresh_30_dim_date", arguments: ["lo_day": first, "hi_day": last])
    }

    static func elapsedMs(since start: UInt64) -> Int {
        Int((DispatchTime.now().uptimeNanoseconds &- start) / 1_000_000)
    }
}

/// What one ``GoldRefresher/refresh(_:now:forceFull:)`` did.
struct GoldRefreshSummary: Sendable, Equatable {
    /// How gold was refreshed (`none`: silver unchanged, nothing written).
    var mode: GoldRefreshMode
    /// Silver events folded into gold by this refresh (all of silver for a full rebuild).
    var newEvents: Int
    /// Wall time of the refresh, in milliseconds.
    var durationMs: Int
    /// The watermark before the refresh: events with a larger event_id were folded in.
    var fromEventId: Int64
    /// The watermark after the refresh (the largest silver event_id).
    var toEventId: Int64
    /// Whether changed reference data (users, episodes) was reconciled.
    var referenceChanged: Bool
    /// The `silver.generation` the gold now reflects.
    var generation: String
    /// The `silver.reference_version` the gold now reflects.
    var referenceVersion: String
    /// The refresh took what ``GoldPrefetch`` gathered while the files loaded instead of
    /// scanning silver: an incremental batch (gold's keys probed too), or a full rebuild's
    /// aggregates of the rows loaded (the rows from before them were still scanned).
    var gathered = false
}

/// Errors of the gold refresh, with what to do about them.
enum GoldError: Error, CustomStringConvertible {
    /// `refresh` was called outside a transaction.
    case notInTransaction
    /// A refresh step's SQL failed; the caller's transaction must be rolled back.
    case stepFailed(step: String, underlying: DatabaseError)
    /// The full rebuild's temporary file (its sorted runs, `TMPDIR`) failed.
    case scratchFile(directory: String, operation: String, errno: Int32)
    /// An incremental batch reached its temp tables with keys whose gold state was never
    /// probed (a bug: nothing was written).
    case batchNotProbed(key: String)

    var description: String {
        switch self {
        case .batchNotProbed(let key):
            "incremental gold refresh: the batch's key (\(key)) was never probed against gold (an internal error); the refresh is rolled back, gold stays as it was; report it, and run `podpipectl refresh --full` to rebuild gold meanwhile"
        case .scratchFile(let directory, let operation, let code):
            "the full gold rebuild could not \(operation) its temporary file in \(directory): \(String(cString: strerror(code))); the refresh is rolled back, gold stays as it was; free space there (or point TMPDIR at a folder with room) and retry"
        case .notInTransaction:
            "gold refresh must run inside the writer's transaction (call it from DatabasePool.write / inTransaction) so that readers never see half a refresh"
        case .stepFailed(let step, let underlying):
            "gold refresh step \(step) failed: \(underlying.message ?? underlying.description) (SQLite code \(underlying.resultCode.rawValue)); roll back the transaction, gold stays as it was; fix the cause (disk space, a locked or read-only database) and retry, or force a full rebuild if gold is suspected inconsistent"
        }
    }
}

/// The `pipeline_state` keys the refresher reads and writes.
enum GoldState {
    typealias Plan = GoldRefreshMode

    struct Snapshot {
        var generation: String
        var referenceVersion: String
        var seenGeneration: String?
        var seenReferenceVersion: String?
        var watermark: Int64?
        var maxEventId: Int64
        /// gold_reference_change holds ids (reference rows changed since the last refresh).
        var referenceChangesPending: Bool

        func plan(forceFull: Bool, fullRebuildMinimum: Int = .max) -> Plan {
            guard let watermark, !forceFull, seenGeneration == generation,
                maxEventId >= watermark
            else { return .full }
            let backlog = maxEventId - watermark
            if backlog > Int64(fullRebuildMinimum) && backlog > maxEventId / 4 {
                return .full
            }
            if maxEventId == watermark && seenReferenceVersion == referenceVersion
                && !referenceChangesPending
            {
                return .none
            }
            return .incremental
        }
    }

    static func read(_ db: Database) throws -> Snapshot {
        let rows = try Row.fetchAll(
            db, sql: "SELECT key, value FROM pipeline_state WHERE key IN (?, ?, ?, ?, ?)",
            arguments: StatementArguments(
                [
                    PipelineStateKey.silverGeneration, .silverReferenceVersion, .goldWatermark,
                    .goldSeenGeneration, .goldSeenReferenceVersion,
                ].map(\.rawValue)))
        var values: [String: String] = [:]
        for row in rows {
            if let key: String = row["key"], let value: String = row["value"] {
                values[key] = value
            }
        }
        let maxEventId =
            try Int64.fetchOne(db, sql: "SELECT MAX(event_id) FROM silver_event") ?? 0
        let pending =
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM gold_reference_change)")
            ?? false
        return Snapshot(
            generation: values[PipelineStateKey.silverGeneration.rawValue] ?? "0",
            referenceVersion: values[PipelineStateKey.silverReferenceVersion.rawValue] ?? "0",
            seenGeneration: values[PipelineStateKey.goldSeenGeneration.rawValue],
            seenReferenceVersion: values[PipelineStateKey.goldSeenReferenceVersion.rawValue],
            watermark: values[PipelineStateKey.goldWatermark.rawValue].flatMap { Int64($0) },
            maxEventId: maxEventId,
            referenceChangesPending: pending)
    }

    static func write(_ db: Database, _ values: [PipelineStateKey: String]) throws {
        for (key, value) in values.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            try PipelineState.set(key, value, db)
        }
    }
}

/// Gold's UTC date helpers, over PodpipeRules' `Timestamps` (one civil-date algorithm for
/// the whole project).
enum GoldClock {
    /// `2026-11-27T01:30:00Z`.
    static func iso8601(_ date: Date) -> String { ISOTime.format(date) }

    /// (year, month, day) of a day number (days since 1970-01-01).
    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let date = Timestamps.civilFromDays(days)
        return (date.year, date.month, date.day)
    }

    /// `YYYY-MM-DD` of a day number.
    static func dateString(days: Int64) -> String { Timestamps.formatDay(days * 86_400) }

    /// The first day number of year 1 (`--as-of` dates start there).
    private static let firstDay = Timestamps.daysFromCivil(year: 1, month: 1, day: 1)

    /// The day number of a strict `YYYY-MM-DD` that is a real calendar date of year 1 or
    /// later, else nil.
    static func parseDay(_ text: String) -> Int64? {
        guard let midnight = Timestamps.parseDay(text) else { return nil }
        let day = Timestamps.dayNumber(midnight)
        return day >= firstDay ? day : nil
    }
}

/// How a gold refresh ran.
enum GoldRefreshMode: String, Sendable, Equatable {
    /// Silver unchanged since the last refresh: nothing was written.
    case none
    /// The events past the watermark (and changed reference rows) were folded in.
    case incremental
    /// Gold was rebuilt from all of silver.
    case full
}
