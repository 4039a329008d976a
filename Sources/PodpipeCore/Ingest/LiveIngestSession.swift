import Foundation
import GRDB

/// The per-file procedure's store in podpiped: the file's transaction on the writer
/// connection, the ledger's rows through ``Ledger``, the rows under a savepoint.
struct LiveIngestSession: IngestSession {
    let db: Database
    /// The store `db` belongs to: its file is checked before a file's row is final.
    let store: Store
    /// Told of the rows inserted into silver and of their rollback.
    let observer: (any IngestObserver)?

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

    func beginRows() throws { try db.execute(sql: "SAVEPOINT file_rows") }

    func undoRows() throws {
        try db.execute(sql: "ROLLBACK TO file_rows")
        observer?.fileRolledBack()
    }

    func keepRows() throws { try db.execute(sql: "RELEASE file_rows") }

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
            let loader = EventFileLoader(
                validator: rules.validator, lineReader: LineReader(maxLineBytes: rules.maxLineBytes),
                shouldStop: rules.shouldStop, observer: observer)
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
        observer: (any IngestObserver)?
    ) throws -> FileIngestResult {
        try pool.write { db in
            var session = LiveIngestSession(db: db, store: self, observer: observer)
            return try procedure.run(candidate, started: started, session: &session)
        }
    }

    /// The group's files in one write transaction of the writer: one COMMIT, and one
    /// checkpoint, for all of them. Silver's natural-key index is written once per group
    /// instead of once per file: a file whose keys spread over the whole history touches
    /// nearly every leaf of the index, so with one transaction per file each file wrote the
    /// whole index to the WAL and the checkpoint wrote it again (doc/performance.md).
    func ingestGroup(
        _ candidates: ArraySlice<Candidate>, with procedure: (Candidate) -> FileIngest,
        observer: (any IngestObserver)?, goOn: (Int) -> Bool
    ) throws -> [GroupedFile] {
        var index = 0
        return try pool.write { db in
            var done: [GroupedFile] = []
            for candidate in candidates {
                if !done.isEmpty && !goOn(done.count) { break }
                let started = Date()
                var session = LiveIngestSession(db: db, store: self, observer: observer)
                do {
                    let result = try procedure(candidate).run(candidate, started: started, session: &session)
                    done.append(GroupedFile(candidate: candidate, started: started, result: result))
                } catch {
                    throw IngestGroupFailure(index: index, underlying: error)
                }
                index += 1
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
