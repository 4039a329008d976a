import Foundation
import GRDB
import PodpipeRules

/// Gathers the next incremental gold batch while the event files load, on a thread of its own:
/// the rows the loader inserted into silver are added to a ``GoldBatchTables`` and their keys
/// probed against gold through a reader of the pool, on the core the writer leaves idle. The
/// refresh then takes the ready batch instead of scanning silver and probing gold on the
/// writer (``GoldBatch/scan(_:after:upTo:)``), which are a large share of an incremental
/// refresh (doc/performance.md).
///
/// The batch is only a shortcut; the refresh uses it only when it is exactly what the scan
/// would give (``take(after:upTo:)``):
/// - gathering started with silver's last event_id equal to gold's watermark (no backlog);
/// - it holds as many events as silver's range (watermark, last event_id]: every inserted row
///   was added, so a file whose rows were rolled back leaves more and is caught;
/// - gold's watermark and generation were the same in every probing read (gold unchanged:
///   only the refresh writes the probed tables, and it takes or drops the batch).
/// Anything else (a backlog from an earlier run, a failed file, more than `limit` events or
/// a file that looks larger, the thread falling behind, an error) drops the batch, and the
/// refresh scans as before.
///
/// When the next refresh will be a full rebuild instead (gold never refreshed, silver
/// rewritten, or a backlog past the rebuild's threshold: ``GoldState/Snapshot/plan(forceFull:fullRebuildMinimum:)``
/// on silver as it will be after the file), the rows feed the rebuild's aggregates
/// (``GoldFullRebuild/Stream``) instead, so that the rebuild reads only the rows from before
/// the stream began (none on a fresh load) and the scan's hashing and sorting run on the core
/// the writer leaves idle. The refresh takes the stream (``takeRebuild(upTo:generation:)``)
/// only if it holds exactly silver's rows after its start, under the same generation; a
/// rolled-back file with rows added starts it over at the next file (the rows before it are
/// then read by the rebuild), the thread falling behind or an error drops it.
final class GoldPrefetch: IngestObserver, @unchecked Sendable {
    private let reader: any DatabaseReader
    private let limit: Int
    /// The refresh's threshold for a full rebuild (``GoldRefresher/fullRebuildMinimum``).
    private let fullRebuildMinimum: Int
    private let rebuildSpillEntries: Int
    /// Guards `pending`, `pendingRows`, `working`, `accepting` and `streaming`.
    private let condition = NSCondition()
    /// Rows are handed over (false once a file began that cannot be gathered: the thread
    /// would drop the batch anyway, so the writer stops handing rows until the next start).
    private var accepting = true
    /// The rows go to the full rebuild's stream (from a `beginRebuild` to the next `begin`
    /// or reset).
    private var streaming = false
    /// Work handed over by the writer, in order, and the rows it holds.
    private var pending: [Work] = []
    private var pendingRows = 0
    /// A gathering thread runs (it exits when `pending` is empty).
    private var working = false
    // Touched by the gathering thread only, or under `condition` while none runs.
    private var tables = GoldBatchTables()
    /// Silver's last event_id when gathering started (nil: nothing gathered).
    private var start: Int64?
    /// Gold's watermark and generation when gathering started.
    private var gold: GoldMark?
    private var dropped = false
    /// Rows of the current file were gathered (a rollback then drops the batch).
    private var fileGathered = false
    /// The full rebuild's aggregates of the rows since the stream began, and the silver
    /// generation it began under (nil: no stream).
    private var stream: (rebuild: GoldFullRebuild.Stream, generation: String)?

    /// - Parameters:
    ///   - reader: reads gold's state for the probes (the writer's pool: its readers see the
    ///     last commit, and gold does not change while files load).
    ///   - limit: the most events gathered (the refresh's chunk size).
    ///   - fullRebuildMinimum, rebuildSpillEntries: the refresh's
    ///     ``GoldRefresher/fullRebuildMinimum`` and ``GoldRefresher/fullRebuildSpillEntries``.
    init(
        reader: any DatabaseReader, limit: Int, fullRebuildMinimum: Int = GoldRefresher().fullRebuildMinimum,
        rebuildSpillEntries: Int = GoldFullRebuild.defaultSpillEntries
    ) {
        self.reader = reader
        self.limit = limit
        self.fullRebuildMinimum = fullRebuildMinimum
        self.rebuildSpillEntries = rebuildSpillEntries
    }

    /// A file's load begins (on the writer, in its transaction): `silverLast` is silver's
    /// largest event_id before it; `expectedEvents`, a guess of its lines from its size.
    /// A file guessed to hold more than `limit` events is not gathered (the refresh would
    /// scan anyway), so that a huge file's first rows are not gathered only to be dropped,
    /// which would raise the peak memory for nothing.
    func eventFileBegins(silverLast: Int64, expectedEvents: Int64, _ db: Database) throws {
        let state = try GoldState.read(db)
        var after = state
        after.maxEventId = silverLast.saturatingAdd(max(0, expectedEvents))
        if after.plan(forceFull: false, fullRebuildMinimum: fullRebuildMinimum) == .full {
            hand(.beginRebuild(silverLast: silverLast, generation: state.generation))
            return
        }
        let gold: GoldMark? =
            if let watermark = state.watermark, state.seenGeneration == state.generation,
                expectedEvents <= Int64(limit)
            {
                GoldMark(watermark: watermark, generation: state.generation)
            } else { nil }
        if gold == nil {
            condition.lock()
            accepting = false
            condition.unlock()
        }
        hand(.begin(silverLast: silverLast, gold: gold))
    }

    /// Rows the writer just inserted into silver: those of `rows` marked in `inserted`.
    func eventRowsInserted(_ rows: [SilverRow], inserted: [Bool]) {
        hand(.rows(rows, inserted))
    }

    /// The current file's rows were rolled back: if some were gathered, the batch is no
    /// longer silver's and is dropped (the refresh scans).
    func fileRolledBack() {
        hand(.fileEnded(committed: false))
    }

    func fileCommitted() {
        hand(.fileEnded(committed: true))
    }

    /// Several files' rows were rolled back at once (a group's transaction): whatever was
    /// gathered since the last commit is not silver's, so the batch is dropped and the stream
    /// starts over at the next file.
    func filesRolledBack() {
        hand(.groupRolledBack)
    }

    /// The gathered batch, when it is exactly silver's events in (from, to] and gold is as
    /// it was when they were probed; nil otherwise. Waits for the gathering to finish, and
    /// starts over either way.
    func take(after from: Int64, upTo to: Int64) -> GoldBatchTables? {
        idle {
            defer { reset() }
            guard !dropped, let start, start == from, gold?.watermark == from,
                Int64(tables.count) == to - from, tables.firstUnprobed == nil
            else { return nil }
            return tables
        }
    }

    /// The full rebuild's aggregates of silver's rows after the stream's start, when they are
    /// exactly silver's rows in (start, `last`] under `generation`; nil otherwise. Waits for
    /// the gathering to finish, and starts over either way.
    func takeRebuild(upTo last: Int64, generation: String) -> GoldFullRebuild.Stream? {
        idle {
            defer { reset() }
            guard let stream, stream.generation == generation,
                stream.rebuild.start.saturatingAdd(stream.rebuild.rows) == last
            else { return nil }
            return stream.rebuild
        }
    }

    /// Forgets what was gathered (a full rebuild follows, or nothing).
    func discard() {
        idle { reset() }
    }

    // MARK: - The gathering thread

    private enum Work {
        case begin(silverLast: Int64, gold: GoldMark?)
        /// A file begins whose rows go to the full rebuild's stream.
        case beginRebuild(silverLast: Int64, generation: String)
        case rows([SilverRow], [Bool])
        /// The current file's transaction ended.
        case fileEnded(committed: Bool)
        /// The transaction of a group of files was rolled back.
        case groupRolledBack
        /// The thread fell behind by more than ``maxPendingRows`` rows: give up.
        case overflow
    }

    /// Rows waiting for the thread, at most (the writer hands over a run of up to
    /// `SilverRun.capacity` rows at a time, ~70 bytes a row): beyond, the gathering gives up
    /// rather than hold the file in memory.
    static let maxPendingRows = 2 * SilverRun.capacity

    /// Gold's watermark and the silver generation it was built from.
    private struct GoldMark: Equatable {
        var watermark: Int64
        var generation: String
    }

    private func hand(_ work: Work) {
        condition.lock()
        switch work {
        case .begin: streaming = false
        case .beginRebuild:
            accepting = true
            streaming = true
        case .rows where streaming:
            // The full rebuild's stream is silver's rows or nothing: rather than give it up
            // when the thread falls behind, the writer waits until it has taken the rows
            // handed before (it takes a run in a fraction of the time the writer spends
            // inserting the next one), which bounds the memory the queue holds to the run
            // the thread is adding.
            while pendingRows > 0 {
                condition.wait()
            }
        default:
            guard accepting else {
                // Dropped anyway: no thread wake-up for it.
                condition.unlock()
                return
            }
        }
        if case .rows(let rows, _) = work {
            pendingRows += rows.count
        }
        if pendingRows > Self.maxPendingRows {
            pending = [.overflow]
            pendingRows = 0
        } else {
            pending.append(work)
        }
        let startThread = !working
        working = true
        condition.unlock()
        guard startThread else { return }
        // Nice 10 (Linux: this thread only): the writer and the parser, which bound the load,
        // get the cores first; this fills the time they leave. The full rebuild's stream too:
        // the writer waits for it only if a run is still not taken when it hands the next,
        // while at nice 0 it took the parser's core in 4 ms slices at the end of every file,
        // and the writer waited for the parser (doc/performance.md, session 17).
        let niceness: Int32 = 10
        let thread = Thread { [self] in
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
            drain()
        }
        thread.name = "podpipe-gold-prefetch"
        thread.start()
    }

    private func drain() {
        condition.lock()
        while !pending.isEmpty {
            let work = pending.removeFirst()
            if case .rows(let rows, _) = work {
                pendingRows -= rows.count
                if streaming { condition.broadcast() }
            }
            condition.unlock()
            process(work)
            condition.lock()
        }
        working = false
        condition.broadcast()
        condition.unlock()
    }

    /// Runs `body` once no gathering thread runs (none is started meanwhile: only the
    /// writer's thread, which calls this, hands work over).
    private func idle<Result>(_ body: () -> Result) -> Result {
        condition.lock()
        while working { condition.wait() }
        defer { condition.unlock() }
        return body()
    }

    private func process(_ work: Work) {
        if case .beginRebuild(let silverLast, let generation) = work {
            return beginRebuild(silverLast: silverLast, generation: generation)
        }
        if stream != nil {
            guard case .begin = work else { return feedRebuild(work) }
            // Silver's next rows go to an incremental batch: the refresh will not be full.
            stream = nil
            fileGathered = false
        }
        guard !dropped else { return }
        switch work {
        case .beginRebuild:
            return
        case .overflow:
            drop()
        case .fileEnded(let committed):
            if !committed && fileGathered { drop() }
            fileGathered = false
        case .groupRolledBack:
            drop()
            fileGathered = false
        case .begin(let silverLast, let gold):
            guard let gold else { return drop() }
            if let start, let known = self.gold {
                if known != gold || start > silverLast { drop() }
            } else if gold.watermark == silverLast {
                start = silverLast
                self.gold = gold
            } else {
                drop()  // a backlog not gathered here
            }
        case .rows(let rows, let inserted):
            guard start != nil else { return }
            for index in rows.indices where inserted[index] {
                fileGathered = true
                let event = rows[index].event
                let user = tables.users.number(event.userId)
                let episode = tables.episodes.number(event.episodeId)
                tables.add(
                    ts: event.timestamp, user: user, episode: episode, type: event.eventType,
                    duration: event.duration ?? 0)
            }
            if tables.count > limit { return drop() }
            do {
                let expected = gold
                let same = try reader.read { db in
                    let state = try GoldState.read(db)
                    guard let expected, state.watermark == expected.watermark,
                        state.seenGeneration == expected.generation
                    else { return false }
                    try tables.probe(db)
                    return true
                }
                if !same { drop() }
            } catch {
                drop()
            }
        }
    }

    /// A file whose rows go to the full rebuild begins: the stream goes on if it holds every
    /// row up to `silverLast` under the same generation, else it starts over here (the rows
    /// before are the rebuild's to read). An incremental batch is dropped.
    private func beginRebuild(silverLast: Int64, generation: String) {
        if start != nil || gold != nil { drop() }
        if let current = stream, current.generation == generation,
            current.rebuild.start.saturatingAdd(current.rebuild.rows) == silverLast
        {
            return
        }
        do {
            stream = (
                try GoldFullRebuild.Stream(start: silverLast, spillEntries: rebuildSpillEntries), generation
            )
        } catch {
            stream = nil  // no scratch file: the rebuild reads all of silver
        }
        fileGathered = false
    }

    /// Rows, a file's end or an overflow while the full rebuild's stream runs.
    private func feedRebuild(_ work: Work) {
        switch work {
        case .begin, .beginRebuild:
            return  // handled by process(_:)
        case .overflow, .groupRolledBack:
            stream = nil
            fileGathered = false
        case .fileEnded(let committed):
            // Rows added for a rolled-back file are not in silver: the stream is no longer
            // silver's; the next file starts another.
            if !committed && fileGathered { stream = nil }
            fileGathered = false
        case .rows(let rows, let inserted):
            do {
                for index in rows.indices where inserted[index] {
                    fileGathered = true
                    try stream?.rebuild.add(rows[index].event)
                }
            } catch {
                stream = nil  // its scratch file failed: the rebuild reads all of silver
            }
        }
    }

    private func drop() {
        dropped = true
        tables = GoldBatchTables()
    }

    private func reset() {
        accepting = true
        streaming = false
        fileGathered = false
        dropped = false
        start = nil
        gold = nil
        tables = GoldBatchTables()
        stream = nil
    }
}
