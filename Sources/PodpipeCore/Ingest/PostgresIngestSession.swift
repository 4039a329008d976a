import Foundation
import PodpipeRules

/// The per-file procedure's store on PostgreSQL: the file's transaction on the writer's
/// connection, the ledger through ``PostgresLedger`` within this host's ``LedgerScope``, the
/// rows under a savepoint, bulk-loaded (``PostgresEventLoader``, ``PostgresReferenceRows``).
///
/// The claim across hosts: a file's digest is known only once it is read, so before the
/// look-up of its bytes the session takes a transaction-level advisory lock on (kind,
/// digest) (``PostgresLockKey/fileBytes``). A second host with the same bytes waits there
/// until the first commits (or rolls back), then finds its row and records `duplicate`; the
/// partial unique index `ingest_file_loaded_bytes` guarantees it whatever the code does.
struct PostgresIngestSession: IngestSession {
    let connection: PostgresConnection
    let scope: LedgerScope

    mutating func claim(_ entry: LedgerEntry) throws -> LedgerClaim {
        try PostgresLedger.claim(entry, scope, connection)
    }

    func hasFile(ofSize size: Int64, kind: FileKind, other fileId: Int64) throws -> Bool {
        try PostgresLedger.hasFile(ofSize: size, kind: kind, other: fileId, connection)
    }

    func knownBytes(sha256: String, kind: FileKind, other fileId: Int64) throws -> KnownBytes? {
        try connection.query(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            [String(PostgresLockKey.namespace + PostgresLockKey.fileBytes), kind.rawValue + ":" + sha256])
        guard let found = try PostgresLedger.original(withSHA256: sha256, kind: kind, connection),
            found.entry.fileId != fileId
        else { return nil }
        return found.scope == scope ? .ledger(found.entry) : .elsewhere(found.entry)
    }

    mutating func settleUnchanged(_ entry: LedgerEntry, original: LedgerEntry) throws {
        try PostgresLedger.settleUnchanged(entry, original: original, connection)
    }

    mutating func record(_ entry: LedgerEntry) throws {
        try PostgresLedger.record(entry, connection)
        if entry.rowsLoaded > 0 || entry.rowsDuplicate > 0 {
            try PostgresPipelineState.set(.silverLastChangeAt, entry.finishedAt, connection)
        }
        FaultInjection.reach(.ledgerCommit)
    }

    func beginRows(_ kind: FileKind) throws { try connection.execute("SAVEPOINT file_rows") }
    func undoRows() throws { try connection.execute("ROLLBACK TO SAVEPOINT file_rows") }
    func keepRows() throws { try connection.execute("RELEASE SAVEPOINT file_rows") }

    func loadRows(
        _ kind: FileKind, source: ChunkSource, fileId: Int64, place: ReferencePlace, rules: FileRules
    ) throws -> FileLoadCounts {
        switch kind {
        case .events:
            return try PostgresEventLoader(
                validator: rules.validator, lineReader: LineReader(maxLineBytes: rules.maxLineBytes),
                shouldStop: rules.shouldStop, connection: connection
            ).load(source: source, fileId: fileId, started: rules.started)
        case .episodes, .users:
            var rows = PostgresReferenceRows(kind: kind, fileId: fileId, connection: connection)
            try rows.prepare()
            return try ReferenceFileLoader(
                kind: kind, maxRecordBytes: rules.maxLineBytes, shouldStop: rules.shouldStop
            ).load(source: source, place: place, into: &rows)
        }
    }

    func referencePlace(ofFile fileId: Int64) throws -> ReferencePlace? {
        try PostgresLedger.referencePlace(ofFile: fileId, connection)
    }

    mutating func placeReferenceRows(_ kind: FileKind, ofFile fileId: Int64, at place: ReferencePlace)
        throws
    {
        var rows = PostgresReferenceRows(kind: kind, fileId: fileId, connection: connection)
        try rows.prepare()
        try ReferenceFileLoader.place(kind, at: place, from: &rows)
    }
}
