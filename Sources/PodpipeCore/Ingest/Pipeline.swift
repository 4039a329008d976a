import Foundation
import GRDB
import Logging
import PodpipeRules

/// What happened to one file in a pass.
struct FileOutcome: Sendable {
    var name: String
    var state: LedgerState
    var rowsRead: Int64
    var rowsLoaded: Int64
    var rowsRejected: Int64
    var rowsDuplicate: Int64
    var message: String?
    var durationMs: Int64
}

/// The result of one ingest pass (plus the gold refresh that may follow it).
struct PassSummary: Sendable {
    var outcomes: [FileOutcome] = []
    var ignored: [(name: String, reason: String)] = []
    var gold: GoldRefreshSummary?

    var failedCount: Int { outcomes.filter { $0.state == .failed }.count }
}

/// The ingest pass: lists the drop folder, decides with the ledger what is new, and loads
/// each new file in one transaction (bronze + silver + ledger row), oldest first, through
/// the per-file procedure (``FileIngest``). What follows the ingest (the gold refresh and its
/// prefetch) listens through an ``IngestObserver``; ``WriterSession`` puts them together.
final class Pipeline: @unchecked Sendable {
    /// The database, through the ingest's store boundary (SQLite's ``Store`` today).
    let store: any IngestStore
    let settings: PipelineSettings
    let logger: Logger
    let shouldStop: @Sendable () -> Bool
    let observer: (any IngestObserver)?
    /// The next event file's parse, begun while the current file's last rows are inserted.
    let ahead = ParseAhead()

    init(
        store: any IngestStore, settings: PipelineSettings, logger: Logger,
        shouldStop: @escaping @Sendable () -> Bool = { false }, observer: (any IngestObserver)? = nil
    ) {
        self.store = store
        self.settings = settings
        self.logger = logger
        self.shouldStop = shouldStop
        self.observer = observer
    }

    deinit { ahead.discard() }

    /// The pass is over: a parse begun for a file it did not reach is stopped.
    func endPass() { ahead.discard() }

    /// Files in the folder that the ledger has not settled (new, changed, or failed and due).
    /// The settled ones still in the folder are announced to the observer first
    /// (``IngestObserver/fileSettled(_:_:)``, when it follows them).
    func pending(in listing: FolderListing, now: Date, ignoreBackoff: Bool) throws
        -> [Candidate]
    {
        try store.verifyStillOpen()
        let latest = try store.latestSettlements()
        if let observer, observer.followsSettledFiles {
            // Files committed earlier and still here (a crash between a commit and the move,
            // or `ingest.after` just turned on): announced again, never read again; in
            // chunks, asking `shouldStop` (which proves progress to the watchdog) between them.
            let settled = Ledger.settledFinal(listing.candidates, latest: latest).map(SettledFile.init)
            for start in stride(from: 0, to: settled.count, by: Self.settledChunk) {
                if shouldStop() { break }
                observer.filesSettled(Array(settled[start..<min(settled.count, start + Self.settledChunk)]))
            }
        }
        return Ledger.unsettled(listing.candidates, latest: latest, now: now, ignoreBackoff: ignoreBackoff)
    }

    /// Ingests everything pending, oldest first.
    func ingestPending(ignoreBackoff: Bool = true) throws -> PassSummary {
        var summary = PassSummary()
        let listing = try DropFolder.list(
            settings.dataLoad, database: store.location, selection: settings.selection)
        summary.ignored = listing.ignored
        let candidates = try pending(in: listing, now: Date(), ignoreBackoff: ignoreBackoff)
        defer { endPass() }
        var next = candidates.startIndex
        while next < candidates.endIndex {
            if shouldStop() { throw PipelineError.interrupted }
            let group = try ingestGroup(candidates[next...])
            summary.outcomes += group.outcomes
            next += group.consumed
        }
        return summary
    }

    /// The rules a file is read with, as of now. `next`: the file after it in the pass, whose
    /// parse begins when this file's has read its last line (``ParseAhead``).
    private func procedure(_ candidate: Candidate, next: Candidate? = nil) -> FileIngest {
        var rules = FileRules(
            validator: validator(), maxLineBytes: settings.maxLineBytes, shouldStop: shouldStop, ahead: ahead)
        if let next, next.kind == .events {
            let ahead = self.ahead
            let skew = settings.futureSkewSeconds
            let lineReader = LineReader(maxLineBytes: settings.maxLineBytes)
            rules.parsed = {
                ahead.start(next, validator: Self.validator(skew: skew), lineReader: lineReader)
            }
        }
        return FileIngest(rules: rules)
    }

    /// The procedure of each of `candidates` (in their order), each told the next candidate.
    private func procedures(_ candidates: ArraySlice<Candidate>) -> (Candidate) -> FileIngest {
        var position = candidates.startIndex
        return { candidate in
            // The store asks in the candidates' order: one step forward each time.
            while position < candidates.endIndex, candidates[position] != candidate { position += 1 }
            let next = position + 1 < candidates.endIndex ? candidates[position + 1] : nil
            return self.procedure(candidate, next: next)
        }
    }

    /// Events are valid up to the allowed skew past the moment their file's parse begins.
    private func validator() -> EventValidator { Self.validator(skew: settings.futureSkewSeconds) }

    private static func validator(skew: Int64) -> EventValidator {
        EventValidator(now: Int64(Date().timeIntervalSince1970), allowedFutureSkewSeconds: skew)
    }

    /// Ingests the first of `candidates` and, in the same transaction, the next ones until
    /// the group has run for ``PipelineSettings/groupSeconds`` (a group commit: one COMMIT
    /// and one checkpoint for several files, see ``IngestStore/ingestGroup(_:with:observer:goOn:)``).
    /// Each file still settles exactly once: its ledger row commits with its rows, and
    /// nothing of a group is announced, logged or moved before its COMMIT. When a file of
    /// the group fails, the group is rolled back, the files before the failed one are
    /// ingested again one transaction each, and the failure is recorded as for a file alone
    /// (one attempt per pass, as always).
    /// Returns the outcomes (none for a file already recorded) and how many candidates
    /// were consumed (at least one).
    func ingestGroup(_ candidates: ArraySlice<Candidate>) throws -> (outcomes: [FileOutcome], consumed: Int) {
        guard let first = candidates.first else { return ([], 0) }
        let procedure = procedures(candidates)
        guard candidates.count > 1, settings.groupSeconds > 0 else {
            return (
                (try ingest(first, endsPass: candidates.count == 1, with: procedure)).map { [$0] } ?? [], 1
            )
        }
        try store.verifyStillOpen()
        let groupStarted = Date()
        let budget = settings.groupSeconds
        let files: [GroupedFile]
        do {
            files = try store.ingestGroup(
                candidates, with: procedure, observer: observer,
                goOn: { _ in !self.shouldStop() && Date().timeIntervalSince(groupStarted) < budget })
        } catch let failure as IngestGroupFailure {
            observer?.filesRolledBack()
            if let error = failure.underlying as? PipelineError, error == .interrupted { throw error }
            if let error = failure.underlying as? StoreError { throw error }
            // Again one file per transaction, up to the one that failed.
            var outcomes: [FileOutcome] = []
            for candidate in candidates.prefix(failure.index) {
                if let outcome = try ingest(candidate) { outcomes.append(outcome) }
            }
            let failed = candidates[candidates.startIndex + failure.index]
            outcomes.append(try recordFailure(failed, failure.underlying, started: failure.started))
            return (outcomes, failure.index + 1)
        } catch let error as StoreError {
            observer?.filesRolledBack()
            throw error
        } catch {
            // The COMMIT itself failed: nothing of the group is kept.
            observer?.filesRolledBack()
            return ((try ingest(first)).map { [$0] } ?? [], 1)
        }
        var outcomes: [FileOutcome] = []
        for file in files {
            observer?.fileCommitted()
            if let outcome = settled(file.candidate, file.result) { outcomes.append(outcome) }
        }
        return (outcomes, files.count)
    }

    /// Ingests one file. Returns nil when the file turned out to be already recorded (same
    /// name, same bytes, only its timestamp changed). `endsPass`: no file of the pass follows.
    func ingest(
        _ candidate: Candidate, endsPass: Bool = false, with procedure: ((Candidate) -> FileIngest)? = nil
    ) throws -> FileOutcome? {
        let started = Date()
        try store.verifyStillOpen()
        do {
            let result = try store.ingestFile(
                candidate, with: procedure?(candidate) ?? self.procedure(candidate), started: started,
                observer: observer, endsPass: endsPass)
            observer?.fileCommitted()
            return settled(candidate, result)
        } catch let error as PipelineError where error == .interrupted {
            observer?.fileRolledBack()
            throw error
        } catch let error as StoreError {
            // The database itself is gone: nothing to record the failure in.
            observer?.fileRolledBack()
            throw error
        } catch {
            observer?.fileRolledBack()
            return try recordFailure(candidate, error, started: started)
        }
    }

    /// Nothing of `candidate` was committed: records the failure (its own transaction) so
    /// that status shows it and the daemon retries with backoff.
    private func recordFailure(_ candidate: Candidate, _ error: any Error, started: Date) throws
        -> FileOutcome
    {
        let log = logger.with(["file": "\(candidate.name)", "kind": "\(candidate.kind.rawValue)"])
        let message = "\(error)"
        let entry = try store.recordFailure(
            candidate, message: message, started: started, backoff: settings.retryBackoffSeconds)
        log.error(
            "file failed, will retry",
            metadata: LogEventKind.fileFailed.metadata([
                "error": "\(message)", "attempts": "\(entry.attempts)",
                "next_attempt_at": "\(entry.nextAttemptAt ?? "")",
            ]))
        return FileOutcome(entry)
    }

    /// After the COMMIT of `candidate`'s entry: logs it and tells the observer. Nil when the
    /// file was already recorded (same name, same bytes).
    private func settled(_ candidate: Candidate, _ result: FileIngestResult) -> FileOutcome? {
        if result.decision == .unchanged {
            announceSettled(candidate, result)
            return nil
        }
        let log = logger.with(["file": "\(candidate.name)", "kind": "\(candidate.kind.rawValue)"])
        let outcome = FileOutcome(result.entry)
        if let previous = result.entry.previousVersion {
            log.warning(
                "new version of an already processed file",
                metadata: LogEventKind.fileNewVersion.metadata(["previous_file_id": "\(previous)"]))
        }
        report(outcome, log)
        announceSettled(candidate, result)
        return outcome
    }

    /// Tells the observer that `candidate` has its final entry now, after the COMMIT.
    private func announceSettled(_ candidate: Candidate, _ result: FileIngestResult) {
        guard let observer, observer.followsSettledFiles else { return }
        var settled = LedgerSettlement(result.entry)
        if let original = result.original {
            // Unchanged: the original entry, which now has this file's times and inode.
            settled.fileId = original.fileId
            settled.state = original.state
        }
        observer.filesSettled([SettledFile(candidate: candidate, entry: settled)])
    }

    /// Settled files announced at once by a listing (one fsync and one transaction each).
    static let settledChunk = 512

    private func report(_ outcome: FileOutcome, _ log: Logger) {
        let metadata = LogEventKind.file(outcome.state).metadata([
            "rows": "\(outcome.rowsRead)", "loaded": "\(outcome.rowsLoaded)",
            "rejected": "\(outcome.rowsRejected)", "duplicates": "\(outcome.rowsDuplicate)",
            "duration_ms": "\(outcome.durationMs)",
        ])
        switch outcome.state {
        case .loaded:
            if outcome.rowsRejected > 0 {
                log.warning(
                    "file loaded with rejected rows: \(outcome.message ?? "")", metadata: metadata)
            } else {
                log.info("file loaded", metadata: metadata)
            }
        case .rejected:
            log.error("file rejected: \(outcome.message ?? "")", metadata: metadata)
        case .duplicate:
            log.notice("file is a duplicate: \(outcome.message ?? "")", metadata: metadata)
        case .failed:
            log.error("file failed: \(outcome.message ?? "")", metadata: metadata)
        }
    }
}

extension FileOutcome {
    /// The outcome a recorded ledger entry tells.
    init(_ entry: LedgerEntry) {
        self.init(
            name: entry.name, state: entry.state, rowsRead: entry.rowsRead, rowsLoaded: entry.rowsLoaded,
            rowsRejected: entry.rowsRejected, rowsDuplicate: entry.rowsDuplicate, message: entry.message,
            durationMs: entry.durationMs)
    }
}

extension Logger {
    func with(_ metadata: Logger.Metadata) -> Logger {
        var copy = self
        for (key, value) in metadata { copy[metadataKey: key] = value }
        return copy
    }
}

/// ISO 8601 UTC text for timestamps stored in the ledger and state tables.
enum ISOTime {
    static func format(_ date: Date) -> String {
        Timestamps.formatUTC(Int64(date.timeIntervalSince1970.rounded(.down)))
    }

    static func format(nanoseconds: Int64) -> String {
        Timestamps.formatUTC(nanoseconds / 1_000_000_000)
    }

    /// Whole milliseconds from `start` to `end`, clamped to Int64 (a clock that jumps
    /// cannot trap).
    static func milliseconds(from start: Date, to end: Date) -> Int64 {
        let ms = (end.timeIntervalSince(start) * 1000).rounded(.down)
        guard ms.isFinite else { return 0 }
        return ms >= 9.2e18 ? Int64.max : ms <= -9.2e18 ? Int64.min : Int64(ms)
    }
}
