import Foundation
import GRDB
import Logging
import PodpipeRules

/// What happened to one file in a pass.
public struct FileOutcome: Sendable {
    public var name: String
    public var state: LedgerState
    public var rowsRead: Int64
    public var rowsLoaded: Int64
    public var rowsRejected: Int64
    public var rowsDuplicate: Int64
    public var message: String?
    public var durationMs: Int64
}

/// The result of one ingest pass (plus the gold refresh that may follow it).
public struct PassSummary: Sendable {
    public var outcomes: [FileOutcome] = []
    public var ignored: [(name: String, reason: String)] = []
    public var gold: GoldRefreshSummary?

    public var failedCount: Int { outcomes.filter { $0.state == .failed }.count }
}

/// The ingest pipeline: lists the drop folder, decides with the ledger what is new, and
/// loads each new file in one transaction (bronze + silver + ledger row), oldest first.
public final class Pipeline: @unchecked Sendable {
    public let store: Store
    public let settings: PipelineSettings
    let logger: Logger
    let shouldStop: @Sendable () -> Bool
    /// The next incremental gold batch, gathered while event files load (GoldPrefetch).
    let goldPrefetch: GoldPrefetch

    public convenience init(
        store: Store, settings: PipelineSettings, logger: Logger,
        shouldStop: @escaping @Sendable () -> Bool = { false }
    ) {
        self.init(
            store: store, settings: settings, logger: logger, shouldStop: shouldStop,
            goldPrefetchLimit: GoldRefresher().chunkSize)
    }

    /// `goldPrefetchLimit`: the most events gathered for the next incremental refresh (the
    /// refresher's chunk size; tests make it small).
    init(
        store: Store, settings: PipelineSettings, logger: Logger,
        shouldStop: @escaping @Sendable () -> Bool = { false }, goldPrefetchLimit: Int
    ) {
        self.store = store
        self.settings = settings
        self.logger = logger
        self.shouldStop = shouldStop
        goldPrefetch = GoldPrefetch(reader: store.pool, limit: goldPrefetchLimit)
    }

    /// Files in the folder that the ledger has not settled (new, changed, or failed and due).
    public func pending(in listing: FolderListing, now: Date, ignoreBackoff: Bool) throws
        -> [Candidate]
    {
        try store.verifyStillAtPath()
        let ledger = try store.pool.read { db in try Ledger.latestByName(db) }
        let nowText = ISOTime.format(now)
        return listing.candidates.filter { candidate in
            guard let entry = ledger[Ledger.nameKey(candidate.name)] else { return true }
            if entry.state == .failed {
                if ignoreBackoff { return true }
                return (entry.nextAttemptAt ?? "") <= nowText
            }
            return !(entry.sizeBytes == candidate.size && entry.mtimeNs == candidate.mtimeNs)
        }
    }

    /// One pass: ingest everything pending, then refresh gold if silver changed.
    public func runOnce(ignoreBackoff: Bool = true, refreshGold: Bool = true) throws -> PassSummary {
        var summary = PassSummary()
        let listing = try DropFolder.list(settings.dataLoad, database: store.path)
        summary.ignored = listing.ignored
        for candidate in try pending(in: listing, now: Date(), ignoreBackoff: ignoreBackoff) {
            if shouldStop() { throw PipelineError.interrupted }
            if let outcome = try ingest(candidate) { summary.outcomes.append(outcome) }
        }
        if refreshGold {
            summary.gold = try refreshGoldIfStale()
        }
        return summary
    }

    /// Refreshes gold in one transaction when silver changed since the last refresh.
    public func refreshGoldIfStale(force: Bool = false) throws -> GoldRefreshSummary? {
        try store.pool.write { db -> GoldRefreshSummary? in
            let stale = try GoldRefresher.isStale(db)
            guard force || stale else { return nil }
            // Its own transaction, silver unchanged in it: a full rebuild may scan silver
            // through a reader of the pool while this connection writes.
            let result = try GoldRefresher(scanReader: store.pool, prefetch: goldPrefetch).refresh(
                db, now: Date(), forceFull: force)
            var metadata: Logger.Metadata = [
                "event": "gold_refreshed", "mode": "\(result.mode)",
                "new_events": "\(result.newEvents)", "duration_ms": "\(result.durationMs)",
            ]
            if result.mode == "incremental" {
                // gathered: the batch came from the loads (GoldPrefetch); scanned: read from silver.
                metadata["batch"] = "\(result.gathered ? "gathered" : "scanned")"
            }
            logger.info("gold refreshed", metadata: metadata)
            return result
        }
    }

    /// Ingests one file. Returns nil when the file turned out to be already recorded (same
    /// name, same bytes, only its timestamp changed).
    public func ingest(_ candidate: Candidate) throws -> FileOutcome? {
        let started = Date()
        let log = logger.with(["file": "\(candidate.name)", "kind": "\(candidate.kind.rawValue)"])
        try store.verifyStillAtPath()
        do {
            let outcome = try store.pool.write { db in
                try self.loadInTransaction(candidate, started: started, db: db)
            }
            if let outcome { report(outcome, log) }
            return outcome
        } catch let error as PipelineError where error == .interrupted {
            throw error
        } catch let error as StoreError {
            throw error  // the database itself is gone: nothing to record the failure in
        } catch {
            // Nothing of the file was committed. Record the failure (its own transaction)
            // so that status shows it and the daemon retries with backoff.
            let message = "\(error)"
            let entry = try recordFailure(candidate, started: started, message: message)
            let outcome = FileOutcome(
                name: candidate.name, state: .failed, rowsRead: 0, rowsLoaded: 0, rowsRejected: 0,
                rowsDuplicate: 0, message: message, durationMs: entry.durationMs)
            log.error(
                "file failed, will retry",
                metadata: [
                    "event": "file_failed", "error": "\(message)", "attempts": "\(entry.attempts)",
                    "next_attempt_at": "\(entry.nextAttemptAt ?? "")",
                ])
            return outcome
        }
    }

    private func report(_ outcome: FileOutcome, _ log: Logger) {
        let metadata: Logger.Metadata = [
            "event": "file_\(outcome.state.rawValue)", "rows": "\(outcome.rowsRead)",
            "loaded": "\(outcome.rowsLoaded)", "rejected": "\(outcome.rowsRejected)",
            "duplicates": "\(outcome.rowsDuplicate)", "duration_ms": "\(outcome.durationMs)",
        ]
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

    private func loadInTransaction(_ candidate: Candidate, started: Date, db: Database) throws
        -> FileOutcome?
    {
        let previous = try LedgerEntry.fetchOne(
            db, sql: "SELECT * FROM ingest_file WHERE name = ? ORDER BY file_id DESC LIMIT 1",
            arguments: [candidate.name])
        var attempts: Int64 = 1
        if let previous, previous.state == .failed {
            attempts = previous.attempts + 1
            try db.execute(
                sql: "DELETE FROM ingest_file WHERE name = ? AND state = 'failed'",
                arguments: [candidate.name])
        }
        var entry = LedgerEntry(
            fileId: nil, name: candidate.name, kind: candidate.kind, sha256: "",
            sizeBytes: candidate.size, mtime: ISOTime.format(nanoseconds: candidate.mtimeNs),
            mtimeNs: candidate.mtimeNs, state: .loaded, attempts: attempts,
            startedAt: ISOTime.format(started), finishedAt: ISOTime.format(started))
        try entry.insert(db)
        guard let fileId = entry.fileId else {
            throw PipelineError.database(message: "ledger insert returned no id", file: candidate.name)
        }

        let source: ChunkSource
        do {
            source = try ChunkSource(candidate)
        } catch let error as ReadError where error.isPermanent {
            // Not a file we can ever read (a link leaving the folder, a FIFO…): rejected,
            // identified by its name since its bytes are not to be read.
            entry.sha256 = "unreadable:" + candidate.name
            return try finish(
                &entry, counts: FileLoadCounts(), state: .rejected,
                message: error.description, started: started, db: db)
        }
        // Bytes the ledger may already know (a touched file, a renamed or copied one): the
        // same size as a recorded file. Hash them first (one read, ~1 GB/s) so that known
        // bytes are settled without parsing and inserting every row only to roll them back.
        if try Ledger.hasFile(ofSize: candidate.size, other: fileId, db) {
            let digest = try ChunkSource(path: candidate.path, rawPath: candidate.rawPath, gzip: false)
            try digest.drain()
            if digest.bytesRead == candidate.size,
                let original = try Ledger.original(withSHA256: digest.digestHex(), db),
                original.fileId != fileId
            {
                entry.sha256 = digest.digestHex()
                entry.sizeBytes = digest.bytesRead
                return try settleKnownBytes(&entry, original: original, started: started, db: db)
            }
        }
        try db.execute(sql: "SAVEPOINT file_rows")
        var counts = FileLoadCounts()
        var rejection: FileRejection?
        do {
            counts = try Self.loadRows(
                candidate.kind, source: source, fileId: fileId, db: db,
                validator: EventValidator(
                    now: Int64(Date().timeIntervalSince1970),
                    allowedFutureSkewSeconds: settings.futureSkewSeconds),
                maxLineBytes: settings.maxLineBytes, shouldStop: shouldStop, prefetch: goldPrefetch)
            rejection = counts.rejection
        } catch let error as FileRejection {
            rejection = error
        } catch let error as ReadError where error.isPermanent {
            rejection = .unreadable(error.description)
        }
        if let rejection, !(counts.rejection == rejection) {
            // The rows of a file rejected midway are not kept: undo them.
            try db.execute(sql: "ROLLBACK TO file_rows")
            counts = FileLoadCounts()
        }
        try source.drain()
        let size = source.currentSize()
        if size != source.bytesRead {
            throw ReadError.changedWhileReading(
                path: candidate.path, expected: source.bytesRead, now: size)
        }
        entry.sha256 = source.digestHex()
        entry.sizeBytes = source.bytesRead

        if let original = try Ledger.original(withSHA256: entry.sha256, db), original.fileId != fileId {
            try db.execute(sql: "ROLLBACK TO file_rows")
            try db.execute(sql: "RELEASE file_rows")
            return try settleKnownBytes(&entry, original: original, started: started, db: db)
        }
        try db.execute(sql: "RELEASE file_rows")
        var message: String?
        if let previous, previous.state != .failed, previous.sha256 != entry.sha256 {
            entry.previousVersion = previous.fileId
            message =
                "new version of \(candidate.name) (previous: file \(previous.fileId ?? 0)); loaded, its events de-duplicated against the earlier version"
            logger.warning(
                "new version of an already processed file",
                metadata: ["file": "\(candidate.name)", "event": "file_new_version"])
        }
        if let rejection {
            return try finish(
                &entry, counts: counts, state: .rejected, message: rejection.message,
                started: started, db: db)
        }
        if counts.rowsRejected > 0 && message == nil {
            message =
                "\(counts.rowsRejected) row(s) rejected; first: line \(counts.firstErrorLine ?? 0): \(counts.firstError ?? "")"
        }
        return try finish(&entry, counts: counts, state: .loaded, message: message, started: started, db: db)
    }

    /// A file whose bytes the ledger already holds under `original`: under the same name only
    /// its timestamp moved (nothing to record, returns nil); under another name it is a
    /// duplicate. No rows are loaded.
    private func settleKnownBytes(
        _ entry: inout LedgerEntry, original: LedgerEntry, started: Date, db: Database
    ) throws -> FileOutcome? {
        if Ledger.nameKey(original.name) == Ledger.nameKey(entry.name) {
            try db.execute(sql: "DELETE FROM ingest_file WHERE file_id = ?", arguments: [entry.fileId])
            try db.execute(
                sql: "UPDATE ingest_file SET mtime = ?, mtime_ns = ? WHERE file_id = ?",
                arguments: [entry.mtime, entry.mtimeNs, original.fileId])
            return nil
        }
        entry.duplicateOf = original.fileId
        return try finish(
            &entry, counts: FileLoadCounts(), state: .duplicate,
            message:
                "same bytes as \(original.name) (file \(original.fileId ?? 0), \(original.state.rawValue)); not loaded again",
            started: started, db: db)
    }

    /// Loads a file's rows into bronze and silver by its kind, inside the caller's
    /// transaction (the ingest and `podpipectl validate`'s dry run share it).
    static func loadRows(
        _ kind: FileKind, source: ChunkSource, fileId: Int64, db: Database,
        validator: EventValidator, maxLineBytes: Int, shouldStop: @escaping @Sendable () -> Bool,
        prefetch: GoldPrefetch? = nil
    ) throws -> FileLoadCounts {
        switch kind {
        case .events:
            let loader = EventFileLoader(
                validator: validator, lineReader: LineReader(maxLineBytes: maxLineBytes),
                shouldStop: shouldStop, prefetch: prefetch)
            return try loader.load(source: source, fileId: fileId, db: db)
        case .episodes, .users:
            return try ReferenceFileLoader(kind: kind, shouldStop: shouldStop).load(
                source: source, fileId: fileId, db: db)
        }
    }

    private func finish(
        _ entry: inout LedgerEntry, counts: FileLoadCounts, state: LedgerState, message: String?,
        started: Date, db: Database
    ) throws -> FileOutcome {
        let finished = Date()
        entry.state = state
        entry.rowsRead = counts.rowsRead
        entry.rowsLoaded = counts.rowsLoaded
        entry.rowsRejected = counts.rowsRejected
        entry.rowsDuplicate = counts.rowsDuplicate
        entry.bronzeFirstId = counts.bronzeIds?.lowerBound
        entry.bronzeLastId = counts.bronzeIds?.upperBound
        entry.firstError = counts.firstError ?? (state == .rejected ? message : nil)
        entry.firstErrorLine = counts.firstErrorLine
        entry.message = message
        entry.finishedAt = ISOTime.format(finished)
        entry.durationMs = Int64(finished.timeIntervalSince(started) * 1000)
        try entry.update(db)
        if counts.rowsLoaded > 0 || counts.rowsDuplicate > 0 {
            try PipelineState.set("silver.last_change_at", entry.finishedAt, db)
        }
        try store.verifyStillAtPath()  // never "loaded" into a deleted database
        FaultInjection.reach(.ledgerCommit)
        return FileOutcome(
            name: entry.name, state: state, rowsRead: counts.rowsRead, rowsLoaded: counts.rowsLoaded,
            rowsRejected: counts.rowsRejected, rowsDuplicate: counts.rowsDuplicate, message: message,
            durationMs: entry.durationMs)
    }

    /// Records (or updates) the `failed` ledger row with a backoff for the next attempt.
    private func recordFailure(_ candidate: Candidate, started: Date, message: String) throws
        -> LedgerEntry
    {
        try store.pool.write { db in
            let previous = try LedgerEntry.fetchOne(
                db,
                sql:
                    "SELECT * FROM ingest_file WHERE name = ? AND state = 'failed' ORDER BY file_id DESC LIMIT 1",
                arguments: [candidate.name])
            let attempts = (previous?.attempts ?? 0) + 1
            let finished = Date()
            // 30 s, 1 min, 2 min … capped at 1 h (the base is `ingest.retry_backoff`).
            let backoff = min(
                3600.0, settings.retryBackoffSeconds * pow(2.0, Double(min(attempts - 1, 12))))
            var entry =
                previous
                ?? LedgerEntry(
                    fileId: nil, name: candidate.name, kind: candidate.kind, sha256: "",
                    sizeBytes: candidate.size, mtime: ISOTime.format(nanoseconds: candidate.mtimeNs),
                    mtimeNs: candidate.mtimeNs, state: .failed, startedAt: ISOTime.format(started),
                    finishedAt: ISOTime.format(finished))
            entry.attempts = attempts
            entry.message = message
            entry.firstError = message
            entry.sizeBytes = candidate.size
            entry.mtimeNs = candidate.mtimeNs
            entry.nextAttemptAt = ISOTime.format(finished.addingTimeInterval(backoff))
            entry.finishedAt = ISOTime.format(finished)
            entry.durationMs = Int64(finished.timeIntervalSince(started) * 1000)
            try entry.save(db)
            return entry
        }
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
public enum ISOTime {
    public static func format(_ date: Date) -> String {
        Timestamps.formatUTC(Int64(date.timeIntervalSince1970.rounded(.down)))
    }

    public static func format(nanoseconds: Int64) -> String {
        Timestamps.formatUTC(nanoseconds / 1_000_000_000)
    }
}
