import Foundation

/// What the ingest pass needs of a database engine: the store boundary of the writer's
/// ingest. The pass (``Pipeline``) and the per-file procedure (``FileIngest``) are written
/// once above it; an engine supplies one conformance: where it lives, the ledger's latest
/// entry per name, one transaction per file holding the procedure's session
/// (``IngestSession``: the ledger row as the claim, the rows that can be taken back, the
/// final row), and the record of a failed attempt. SQLite's is ``Store`` (``LiveIngestSession``).
protocol IngestStore: Sendable {
    /// The database's path (or connection URI): never a file of the drop folder.
    var location: String { get }
    /// Throws when the database is no longer the one opened (deleted or replaced under the
    /// writer): nothing may be recorded `loaded` into a database nobody will read.
    func verifyStillOpen() throws
    /// The latest ledger entry per file name, as the pending filter compares them.
    func latestSettlements() throws -> [[UInt8]: LedgerSettlement]
    /// Runs the per-file procedure for `candidate` in one transaction of its own: committed
    /// when it returns, rolled back (nothing of the file kept) when it throws. The rows
    /// inserted are announced to `observer`. `endsPass`: no file of the pass follows (an
    /// engine may then let what follows the pass overlap its commit's aftermath).
    func ingestFile(
        _ candidate: Candidate, with procedure: FileIngest, started: Date,
        observer: (any IngestObserver)?, endsPass: Bool
    ) throws -> FileIngestResult
    /// Runs the per-file procedure for the first of `candidates` and then for each next one
    /// while `goOn` (asked with the number of files done) says so, all in one transaction,
    /// committed when it returns: the files' results, in order. A group is all or nothing:
    /// when a file's procedure throws, every file of the group is rolled back and the error
    /// comes as ``IngestGroupFailure`` with that file's place. `candidates` are the rest of
    /// the pass: a group that takes them all ends it. An engine without groups runs the first
    /// file alone (the default).
    func ingestGroup(
        _ candidates: ArraySlice<Candidate>, with procedure: (Candidate) -> FileIngest,
        observer: (any IngestObserver)?, goOn: (Int) -> Bool
    ) throws -> [GroupedFile]
    /// Records a failed attempt at `candidate` in a transaction of its own, with the time of
    /// its next attempt `backoff` seconds on.
    func recordFailure(_ candidate: Candidate, message: String, started: Date, backoff: Double)
        throws -> LedgerEntry
}

/// A file of a committed group and what its procedure decided.
struct GroupedFile {
    var candidate: Candidate
    var started: Date
    var result: FileIngestResult
}

/// A file of a group failed: the whole group was rolled back.
struct IngestGroupFailure: Error {
    /// The failed file's place in the group (the files before it had succeeded).
    var index: Int
    /// When the failed file's attempt began.
    var started: Date
    var underlying: any Error
}

extension IngestStore {
    func ingestGroup(
        _ candidates: ArraySlice<Candidate>, with procedure: (Candidate) -> FileIngest,
        observer: (any IngestObserver)?, goOn: (Int) -> Bool
    ) throws -> [GroupedFile] {
        guard let candidate = candidates.first else { return [] }
        let started = Date()
        do {
            let result = try ingestFile(
                candidate, with: procedure(candidate), started: started, observer: observer,
                endsPass: candidates.count == 1)
            return [GroupedFile(candidate: candidate, started: started, result: result)]
        } catch {
            throw IngestGroupFailure(index: 0, started: started, underlying: error)
        }
    }
}
