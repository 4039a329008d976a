import Foundation
import GRDB

/// The per-file procedure's store in podpiped: the file's transaction on the writer
/// connection, the ledger's rows through ``Ledger``, an event file's rows after an
/// ``EventRowsMark``, a reference file's under a savepoint.
struct LiveIngestSession: IngestSession {
    let db: Database
    /// The store `db` belongs to: its file is checked before a file's row is final.
    let store: Store
    /// Told of the rows inserted into silver and of their rollback.
    let observer: (any IngestObserver)?
    /// Where the current event file's rows begin; nil: no rows begun, or a reference file's
    /// under the savepoint.
    private var eventMark: EventRowsMark?

    init(db: Database, store: Store, observer: (any IngestObserver)?) {
        self.db = db
        self.store = store
        self.observer = observer
    }

    mutating func claim(_ entry: LedgerEntry) throws -> LedgerClaim {
        try Ledger.claim(entry, db)
    }

    func hasFile(ofSize size: Int64, kind: FileKind, other fileId: Int64) throws -> Bool {
        try Ledger.hasFile(ofSize: size, kind: kind, other: fileId, db)
    }

    func knownBytes(sha256: String, kind: FileKind, other fileId: Int64) throws -> KnownBytes? {
        guard let original = try Ledger.original(withSHA256: sha256, kind: kind, db),
            original.fileId != fileId
        else { return nil }
        return .ledger(original)
    }

    mutating func settleUnchanged(_ entry: LedgerEntry, original: LedgerEntry) throws {
        try Ledger.settleUnchanged(entry, original: original, db)
    }

    mutating func record(_ entry: LedgerEntry) throws {
        try Ledger.record(entry, db)
        if entry.rowsLoaded > 0 || entry.rowsDuplicate > 0 {
            try PipelineState.set(.silverLastChangeAt, entry.finishedAt, db)
        }
        try store.verifyStillAtPath()  // never "loaded" into a deleted database
        FaultInjection.reach(.ledgerCommit)
    }

    mutating func beginRows(_ kind: FileKind) throws {
        if kind == .events {
            eventMark = try EventRowsMark.read(db)
        } else {
            eventMark = nil
            try db.execute(sql: "SAVEPOINT file_rows")
        }
    }

    mutating func undoRows() throws {
        if let eventMark {
            try eventMark.undo(db)
        } else {
            try db.execute(sql: "ROLLBACK TO file_rows")
        }
        observer?.fileRolledBack()
    }

    mutating func keepRows() throws {
        if eventMark == nil { try db.execute(sql: "RELEASE file_rows") }
        eventMark = nil
    }

    func loadRows(
        _ kind: FileKind, source: ChunkSource, fileId: Int64, place: ReferencePlace, rules: FileRules
    ) throws -> FileLoadCounts {
        try FileRowsLoader.load(
            kind, source: source, fileId: fileId, place: place, rules: rules, db: db, observer: observer)
    }

    func referencePlace(ofFile fileId: Int64) throws -> ReferencePlace? {
        try Ledger.referencePlaces(ofFile: fileId, db)[fileId]
    }

    mutating func placeReferenceRows(_ kind: FileKind, ofFile fileId: Int64, at place: ReferencePlace)
        throws
    {
        try ReferenceFileLoader.place(kind, fileId: fileId, at: place, db)
    }
}

/// Loads a file's rows into bronze and silver by its kind, inside the caller's transaction
/// (the live ingest and the dry run share it).
enum FileRowsLoader {
    static func load(
        _ kind: FileKind, source: ChunkSource, fileId: Int64, place: ReferencePlace, rules: FileRules,
        db: Database, observer: (any IngestObserver)?
    ) throws -> FileLoadCounts {
        switch kind {
        case .events:
            var loader = EventFileLoader(
                validator: rules.validator, lineReader: LineReader(maxLineBytes: rules.maxLineBytes),
                shouldStop: rules.shouldStop, observer: observer)
            loader.started = rules.started
            loader.parsed = rules.parsed
            return try loader.load(source: source, fileId: fileId, db: db)
        case .episodes, .users:
            return try ReferenceFileLoader(
                kind: kind, maxRecordBytes: rules.maxLineBytes, shouldStop: rules.shouldStop
            ).load(source: source, fileId: fileId, place: place, db: db)
        }
    }
}

/// SQLite's side of the ingest's store boundary: a file's transaction is a write of the
/// pool's writer connection; the ledger's SQL is ``Ledger``'s.
extension Store: IngestStore {
    var location: String { path }

    func verifyStillOpen() throws { try verifyStillAtPath() }

    func latestSettlements() throws -> [[UInt8]: LedgerSettlement] {
        try pool.read { db in try Ledger.latestByName(db) }
    }

    func ingestFile(
        _ candidate: Candidate, with procedure: FileIngest, started: Date,
        observer: (any IngestObserver)?, endsPass: Bool
    ) throws -> FileIngestResult {
        try pool.write { db in
            var session = LiveIngestSession(db: db, store: self, observer: observer)
            let result = try procedure.run(candidate, started: started, session: &session)
            if endsPass { checkpointer?.letTheNextCommitGoOn() }
            return result
        }
    }

    /// The group's files in one write transaction of the writer: one COMMIT, and one
    /// checkpoint, for all of them. Silver's natural-key index is written once per group
    /// instead of once per file: a file whose keys spread over the whole history touches
    /// nearly every leaf of the index, so with one transaction per file each file wrote the
    /// whole index to the WAL and the checkpoint wrote it again (doc/performance.md).
    ///
    /// The group ends after an event file whose rows all came after silver's latest event
    /// (time-ordered deliveries): its index entries were appends, which a group does not
    /// share, and one transaction per such file lets the checkpoint of one file run while
    /// the next loads (measured: a group of time-ordered files is 1.18× slower).
    ///
    /// A group (or file) that ends the pass commits without waiting for the checkpoint (see
    /// ``WALCheckpointer``): a full gold rebuild then runs beside it, an incremental refresh
    /// waits for it first (``WriterSession``). So does a group that ran out of time with files
    /// left, unless the commit before it went on: of two such groups in a row, the second
    /// waits.
    func ingestGroup(
        _ candidates: ArraySlice<Candidate>, with procedure: (Candidate) -> FileIngest,
        observer: (any IngestObserver)?, goOn: (Int) -> Bool
    ) throws -> [GroupedFile] {
        var index = 0
        return try pool.write { db in
            var done: [GroupedFile] = []
            var appended = false
            var outOfTime = false
            for candidate in candidates {
                if !done.isEmpty && appended { break }
                if !done.isEmpty && !goOn(done.count) {
                    outOfTime = true
                    break
                }
                let started = Date()
                var session = LiveIngestSession(db: db, store: self, observer: observer)
                do {
                    let end = candidate.kind == .events ? try SilverEnd.read(db) : nil
                    let result = try procedure(candidate).run(candidate, started: started, session: &session)
                    done.append(GroupedFile(candidate: candidate, started: started, result: result))
                    if let end { appended = try end.followedOnlyByLaterEvents(db) }
                } catch {
                    throw IngestGroupFailure(index: index, started: started, underlying: error)
                }
                index += 1
            }
            if done.count == candidates.count {
                checkpointer?.letTheNextCommitGoOn()
            } else if outOfTime, checkpointer?.owesAWait == false {
                // Files are left and the last wait was taken: this group's checkpoint copies
                // beside the next group's load, whose commit waits for it if the WAL is still
                // past the bound. Waiting here left the writer idle for the whole copy (1.2 s
                // for a 5M seed-shaped group) and then loaded the pass's last file or two in
                // a group of their own (doc/performance.md, session 16). The WAL holds at most
                // two groups' pages.
                checkpointer?.letTheNextCommitGoOn()
            }
            return done
        }
    }

    func recordFailure(_ candidate: Candidate, message: String, started: Date, backoff: Double)
        throws -> LedgerEntry
    {
        try pool.write { db in
            try Ledger.recordFailure(candidate, message: message, started: started, backoff: backoff, db)
        }
    }
}

/// Where an event file's rows begin: the largest bronze_id and silver event_id before them. An
/// event file loads without a savepoint of its own, and ``undo(_:)`` deletes the rows after
/// the mark (a file rejected midway, or bytes found already known once read). A savepoint
/// would first copy every page the file then modifies into the statement journal: with
/// events out of time order, about every leaf of silver's natural-key index, 184 MiB for a
/// 100k-event file onto 5M events (doc/performance.md). Undoing is rare; a failure rolls back
/// the whole transaction anyway. Only bronze_event and silver_event take an event file's rows
/// (``EventFileLoader``), each from one writer with rowids above the largest so far.
struct EventRowsMark: Equatable {
    var bronzeId: Int64
    var eventId: Int64

    static func read(_ db: Database) throws -> EventRowsMark {
        let row = try Row.fetchOne(
            db,
            sql: "SELECT (SELECT max(bronze_id) FROM bronze_event), (SELECT max(event_id) FROM silver_event)")
        return EventRowsMark(bronzeId: row?[0] ?? 0, eventId: row?[1] ?? 0)
    }

    /// Deletes the rows written after the mark; silver's ids and bronze's are then given again
    /// from the mark, as after a savepoint's rollback.
    func undo(_ db: Database) throws {
        try db.execute(sql: "DELETE FROM silver_event WHERE event_id > ?", arguments: [eventId])
        try db.execute(sql: "DELETE FROM bronze_event WHERE bronze_id > ?", arguments: [bronzeId])
    }
}

/// Silver's last event id and latest timestamp before a file: whether the file's rows only
/// appended to the natural-key index (each its own transaction then, see
/// ``Store/ingestGroup(_:with:observer:goOn:)``). Both are index look-ups; the check after
/// the file reads its new rows by rowid.
struct SilverEnd {
    var lastEventId: Int64
    /// nil: silver was empty.
    var latestTs: Int64?

    static func read(_ db: Database) throws -> SilverEnd {
        let row = try Row.fetchOne(
            db, sql: "SELECT (SELECT max(event_id) FROM silver_event), (SELECT max(ts) FROM silver_event)")
        return SilverEnd(lastEventId: row?[0] ?? 0, latestTs: row?[1])
    }

    /// The rows inserted since ``read(_:)`` all lie at or after the latest timestamp then
    /// (false when none were inserted, or silver was empty: nothing to append to).
    func followedOnlyByLaterEvents(_ db: Database) throws -> Bool {
        guard let latestTs,
            let earliest = try Int64.fetchOne(
                // NOT INDEXED: the file's rows by rowid; through the natural-key index the
                // minimum would walk every earlier entry (measured: a 5M load 1.6× slower).
                db, sql: "SELECT min(ts) FROM silver_event NOT INDEXED WHERE event_id > ?",
                arguments: [lastEventId])
        else { return false }
        return earliest >= latestTs
    }
}
