import Foundation

/// `podpipectl validate` on PostgreSQL: the real per-file procedure and the real PostgreSQL
/// loaders write into the real tables inside one transaction that is always rolled back.
/// The server's MVCC makes that exact: the run sees the warehouse as it is (duplicates
/// against silver, the ledger of this host's folder and every host's bytes) plus its own
/// rows, and no other session ever sees them. As on SQLite (``DryRunIngestSession``), the
/// ledger is only read (files of the run get negative ids, ``DryRunMemory``), so the same
/// files against the same data give the same report.
///
/// While it runs, its silver writes hold the gold refresh's advisory lock shared (the gate
/// of `SQL/postgres/0002_gold.sql`), so a refresh waits for the dry run to end; and an
/// event it inserts with the same natural key as a daemon's uncommitted one waits for that
/// file's transaction, as a second host would.
enum PostgresDryRun {
    /// Runs `body` (the files, in podpiped's order) in a transaction, rolled back at the end
    /// whatever happens.
    /// - Throws: ``StoreError`` when the database has no podpipe schema (podpiped never ran
    ///   on it) or a newer one; ``PostgresError``; whatever `body` throws.
    static func run<Result>(
        _ connection: PostgresConnection, scope: LedgerScope,
        _ body: (inout PostgresDryRunIngestSession) throws -> Result
    ) throws -> Result {
        try requireSchema(connection)
        try connection.execute("BEGIN")
        defer { _ = try? connection.execute("ROLLBACK") }
        // The reference data as it stands before the run: what a reference file would add
        // or change is counted against it (SQLite's dry run compares with `main`).
        try connection.execute(try SQLResource.load("postgres/inspect", "dry_run_before"))
        var session = PostgresDryRunIngestSession(connection: connection, scope: scope)
        return try body(&session)
    }

    /// Refuses a database podpiped never migrated or a newer one (as SQLite's read-only
    /// open does).
    static func requireSchema(_ connection: PostgresConnection) throws {
        guard try connection.query("SELECT to_regclass('podpipe_migrations') IS NOT NULL").scalar == "t"
        else {
            throw StoreError.databaseMissing(path: connection.location)
        }
        let recorded = try connection.query("SELECT identifier FROM podpipe_migrations").rows.compactMap {
            $0.first ?? nil
        }
        let unknown = PostgresMigrations.unknown(
            recorded: recorded, known: PostgresMigrations.files().map(\.0))
        guard unknown.isEmpty else {
            throw StoreError.schemaTooNew(path: connection.location, unknown: unknown)
        }
    }
}

/// The per-file procedure's store in a PostgreSQL dry run: the ledger read within this
/// host's ``LedgerScope`` and never written, the rows loaded by the real PostgreSQL loaders
/// (through ``PostgresIngestSession``) into the transaction ``PostgresDryRun`` rolls back.
struct PostgresDryRunIngestSession: DryRunSession {
    let connection: PostgresConnection
    let scope: LedgerScope
    private var memory = DryRunMemory()

    init(connection: PostgresConnection, scope: LedgerScope) {
        self.connection = connection
        self.scope = scope
    }

    /// The live session whose loaders this one uses.
    private var live: PostgresIngestSession { PostgresIngestSession(connection: connection, scope: scope) }

    func execute(_ sql: String) throws { try connection.execute(sql) }
    var queries: any QueryRunner { PostgresQueries(connection: connection) }
    var bronzeTables: (events: String, reference: String) { ("bronze_event", "bronze_reference") }

    mutating func claim(_ entry: LedgerEntry) throws -> LedgerClaim {
        LedgerClaim(
            fileId: memory.newFileId(), attempts: 1,
            previous: try PostgresLedger.latestSettled(named: entry.name, scope, connection))
    }

    func hasFile(ofSize size: Int64, kind: FileKind, other fileId: Int64) throws -> Bool {
        try PostgresLedger.hasFile(ofSize: size, kind: kind, other: fileId, connection)
    }

    func knownBytes(sha256: String, kind: FileKind, other fileId: Int64) throws -> KnownBytes? {
        if let found = try PostgresLedger.original(withSHA256: sha256, kind: kind, connection) {
            return found.scope == scope ? .ledger(found.entry) : .elsewhere(found.entry)
        }
        return memory.earlier(sha256: sha256, kind: kind)
    }

    mutating func settleUnchanged(_ entry: LedgerEntry, original: LedgerEntry) throws {}

    mutating func record(_ entry: LedgerEntry) throws {
        memory.remember(entry)
    }

    func beginRows(_ kind: FileKind) throws { try connection.execute("SAVEPOINT dry_run_rows") }
    func undoRows() throws { try connection.execute("ROLLBACK TO SAVEPOINT dry_run_rows") }
    func keepRows() throws { try connection.execute("RELEASE SAVEPOINT dry_run_rows") }

    func loadRows(
        _ kind: FileKind, source: ChunkSource, fileId: Int64, place: ReferencePlace, rules: FileRules
    ) throws -> FileLoadCounts {
        // The event loader's staging tables live until COMMIT (`ON COMMIT DROP`), one file
        // per transaction in podpiped; here every file shares one transaction.
        try connection.execute(
            "DROP TABLE IF EXISTS "
                + PostgresEventLoader.temporaryTables.map { "pg_temp.\($0)" }.joined(separator: ", "))
        return try live.loadRows(kind, source: source, fileId: fileId, place: place, rules: rules)
    }

    func referencePlace(ofFile fileId: Int64) throws -> ReferencePlace? {
        try live.referencePlace(ofFile: fileId)
    }

    /// Not reached: nothing is recorded in a dry run (see ``DryRunIngestSession``).
    mutating func placeReferenceRows(_ kind: FileKind, ofFile fileId: Int64, at place: ReferencePlace)
        throws
    {}
}
