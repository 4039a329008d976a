import Foundation
import GRDB
import GRDBSQLite

/// The SQLite database file: opening it (WAL), the pragmas, and the schema migrations.
///
/// One writer (the daemon or `--once`, guarded by the writer lock) and any number of
/// readers (`podpipectl`): WAL lets readers see the last committed state while a file's
/// transaction is open, so nobody ever sees half a file or half a gold refresh.
public final class Store: Sendable {
    let path: String
    public let pool: DatabasePool
    /// The writer's WAL checkpoints, on a thread of their own (nil for read-only stores).
    let checkpointer: WALCheckpointer?
    /// The largest WAL file the writer's close keeps for the next run.
    let keptWALBytes: Int
    /// The file opened (see ``verifyStillAtPath()``).
    let identity: FileIdentity?
    /// An immutable reader's shared lock on the file (``ReadAccess/immutable``), released
    /// with the store.
    let sharedLock: FileIdentity?

    /// Opens (creating if needed) the database for writing and applies pending migrations.
    /// `checkpointWaitFrames`: see ``WALCheckpointer`` (tests make it small);
    /// `keptWALBytes`: see ``keepWALForTheNextRun()``.
    static func openForWriting(
        path: String, checkpointWaitFrames: Int32? = nil, keptWALBytes: Int = defaultKeptWALBytes
    ) throws -> Store {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true)
        }
        try refuseUnsafeFile(path, forWriting: true)
        var config = Configuration()
        config.busyMode = .timeout(5)
        let checkpointer = WALCheckpointer(path: path, waitFrames: checkpointWaitFrames)
        config.prepareDatabase { db in
            // The writer's checkpoints run on another thread (WALCheckpointer).
            if !db.configuration.readonly, let connection = db.sqliteConnection {
                checkpointer.install(on: connection)
            }
            // NORMAL is durable against application crashes in WAL mode (a commit is in
            // the WAL before COMMIT returns); a power loss may drop the last transactions
            // but never corrupts or half-applies one, and the ledger then reloads them.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // The page size of a new database (SQLite ignores it once the file has tables, and
            // a WAL database keeps its page size).
            try db.execute(sql: "PRAGMA page_size = \(newDatabasePageSize)")
            // Temporary files, not memory, for the statement journal and gold's temp tables.
            // A reference file's rows load under a savepoint (and event files' did); with the
            // statement journal in memory,
            // every multi-row INSERT released its statement by walking the whole in-memory
            // sub-journal, which grows with the existing pages a file touches: a file whose
            // events fall between those loaded got several times slower and larger in memory
            // (doc/performance.md). (Under systemd, PrivateTmp holds them.)
            try db.execute(sql: "PRAGMA temp_store = FILE")
            // 8 MiB page cache. Bronze, silver (natural key led by ts) and the ledger grow by
            // appends, so a bigger cache does not pay, and 8 MiB keeps a 1 GB file's load
            // within the memory bound (doc/performance.md).
            try db.execute(sql: "PRAGMA cache_size = -8192")
            try db.execute(sql: "PRAGMA foreign_keys = OFF")  // integrity is kept by code
            // Silver's key hash in SQL (revalidation's inserts; SilverKeySlot.swift).
            SilverKeySlot.register(on: db)
        }
        let pool = try DatabasePool(path: path, configuration: config)
        try Migrations.migrator.migrate(pool)
        try Catalog.install(pool)
        checkpointer.start()
        return Store(
            path: path, pool: pool, checkpointer: checkpointer, keptWALBytes: keptWALBytes,
            identity: FileIdentity.of(path: path))
    }

    /// Opens an existing database read-only (podpipectl). Never creates the file, never
    /// takes the writer lock, fails clearly on a missing file, another application's
    /// database or a newer schema.
    ///
    /// - Parameter access: how to open it; nil decides by what this user may create beside
    ///   the file (``ReadAccess``). Tests force ``ReadAccess/immutable``, which a root user
    ///   (who may write anywhere) never reaches by itself.
    public static func openForReading(path: String) throws -> Store {
        try openForReading(path: path, access: nil)
    }

    static func openForReading(path: String, access: ReadAccess?) throws -> Store {
        // A PostgreSQL URI is never a file, nor shown with its password (every command
        // reads a server through its own path; this one was given the URI by mistake).
        if case .postgresql(let uri) = DatabaseLocation(path) {
            throw StoreError.notAFile(location: DatabaseLocation.redacting(uri))
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError.databaseMissing(path: path)
        }
        try refuseUnsafeFile(path, forWriting: false)
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(5)
        var sharedLock: FileIdentity?
        let pool: DatabasePool
        switch access ?? readAccess(path) {
        case .shared:
            pool = try DatabasePool(path: path, configuration: config)
        case .refuse(let reason):
            throw StoreError.unreadable(path: path, reason: reason)
        case .immutable:
            guard sqlite3_compileoption_used("USE_URI") != 0 else {
                throw StoreError.unreadable(
                    path: path,
                    reason:
                        "this user cannot create its -shm file beside it, and this SQLite library cannot open a database immutable (built without SQLITE_USE_URI); run the command as the database's owner"
                )
            }
            // Immutable means "nobody writes it": a podpipe writer that started now would
            // checkpoint into the file under this read. The shared lock keeps writers out
            // (they wait ~0.5 s, then refuse with exit 75) for the life of this store.
            switch DatabaseFileLocks.shared.tryShared(path: path) {
            case .locked(let identity): sharedLock = identity
            case .busy:
                throw StoreError.unreadable(
                    path: path,
                    reason:
                        "a podpipe writer is starting on it and this user cannot create its -shm file; try again in a moment"
                )
            case .failed(let reason): throw StoreError.unreadable(path: path, reason: reason)
            }
            do {
                pool = try DatabasePool(path: ReadAccess.immutableURI(path), configuration: config)
            } catch {
                if let sharedLock { DatabaseFileLocks.shared.unlock(sharedLock, exclusive: false) }
                throw error
            }
        }
        let store = Store(
            path: path, pool: pool, identity: FileIdentity.of(path: path), sharedLock: sharedLock)
        let known = Migrations.migrator.migrations
        switch try pool.read({ db in try DatabaseOwnership.inspect(db, known: known) }) {
        case .podpipe: return store
        case .new: throw StoreError.notAPodpipeDatabase(path: path)
        case .newer(let unknown): throw StoreError.schemaTooNew(path: path, unknown: unknown)
        case .foreign(let reason): throw StoreError.foreignDatabase(path: path, reason: reason)
        }
    }

    /// How this user can read `path` (see ``ReadAccess``).
    static func readAccess(_ path: String) -> ReadAccess {
        let resolved = DatabaseFile.resolvedPath(path)
        let directory = (resolved as NSString).deletingLastPathComponent
        let wal = try? FileManager.default.attributesOfItem(atPath: resolved + "-wal")[.size] as? Int
        return ReadAccess.decide(
            walBytes: wal.map { Int64($0) },
            shmExists: FileManager.default.fileExists(atPath: resolved + "-shm"),
            folderWritable: access(directory.isEmpty ? "." : directory, W_OK) == 0)
    }

    /// The checks made before anything of the file is opened by SQLite: one name only (hard
    /// links), and, for a writer, a file that is new, empty or podpipe's own.
    private static func refuseUnsafeFile(_ path: String, forWriting: Bool) throws {
        if let links = DatabaseFile.linkCount(path), links > 1 {
            throw StoreError.hardLinked(path: path, links: links)
        }
        guard forWriting,
            let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int,
            size > 0
        else { return }
        // Read-only, before the pool: opening the pool turns the file into a WAL database,
        // which is already a write into someone else's file.
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(5)
        let known = Migrations.migrator.migrations
        let ownership = try DatabaseQueue(path: path, configuration: config).read { db in
            try DatabaseOwnership.inspect(db, known: known)
        }
        switch ownership {
        case .new, .podpipe: return
        case .newer(let unknown): throw StoreError.schemaTooNew(path: path, unknown: unknown)
        case .foreign(let reason): throw StoreError.foreignDatabase(path: path, reason: reason)
        }
    }

    init(
        path: String, pool: DatabasePool, checkpointer: WALCheckpointer? = nil, keptWALBytes: Int = 0,
        identity: FileIdentity? = nil, sharedLock: FileIdentity? = nil
    ) {
        self.path = path
        self.keptWALBytes = keptWALBytes
        self.pool = pool
        self.checkpointer = checkpointer
        self.identity = identity
        self.sharedLock = sharedLock
    }

    /// Throws when the file at ``path`` is no longer the one this store opened: deleted,
    /// or replaced by another file (a restore, a `mv` over it). SQLite would go on writing
    /// into the open, unlinked file, and every row written would be lost with it, so the
    /// writer calls this before each file and before each commit, and stops.
    /// Other errors reaching the path (a permission) are left to SQLite's own reports.
    func verifyStillAtPath() throws(StoreError) {
        guard let identity else { return }
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { throw .databaseGone(path: path, replaced: false) }
            return
        }
        if FileIdentity(st) != identity { throw .databaseGone(path: path, replaced: true) }
    }

    /// Makes every committed transaction durable: fsyncs the WAL file (the database file when
    /// there is no WAL). With `synchronous = NORMAL` a commit reaches the WAL with write(2)
    /// and is synced at the next checkpoint: enough for a crash of the process, not for a
    /// power loss. The after-commit stage calls this before a file leaves the drop folder,
    /// so that no loss of power can keep the file's move and lose its commit.
    /// Called between transactions: the next write transaction may restart the WAL.
    func syncCommitted() throws(POSIXError) {
        let resolved = DropFolder.realPath(path) ?? path
        var fd = open(resolved + "-wal", O_RDONLY | O_CLOEXEC)
        if fd < 0 && errno == ENOENT { fd = open(resolved, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    deinit {
        if let sharedLock { DatabaseFileLocks.shared.unlock(sharedLock, exclusive: false) }
        // The last checkpoint asked for completes before the store goes.
        checkpointer?.stop()
        if checkpointer != nil { keepWALForTheNextRun() }
    }

    /// The page size of a database this store creates: 32 KiB. A file whose events spread
    /// over the history's span (late syncs: the seed sample) touches about every leaf of
    /// silver's natural-key index, so its load reads and rewrites the whole index whatever
    /// the page size, and larger pages move the same bytes in a quarter of the page reads,
    /// WAL frames and B-tree descents of 8 KiB pages. Gold's random upserts, which dirty 4×
    /// larger pages, measured no slower; 64 KiB gained nothing more (doc/performance.md,
    /// session 12). Databases created earlier keep their page size (8 KiB since migration
    /// 0004's release, 4 KiB before).
    static let newDatabasePageSize = 32_768

    /// The most bytes of WAL file kept for the next run (see ``keepWALForTheNextRun()``):
    /// twice the daemon's own bound (``WALCheckpointer/defaultWaitBytes``).
    static let defaultKeptWALBytes = 256 << 20

    /// Arranges for the writer's close to keep the WAL file (emptied) instead of deleting it,
    /// when it is at most `keptWALBytes` (256 MiB unless opened with another bound): the
    /// next run writes its frames into the file's blocks instead of allocating new ones, and
    /// nobody frees them: on a filesystem mounted with `discard`, freeing a large WAL's
    /// blocks trims them, and allocating them again costs as much (doc/performance.md). A
    /// larger WAL (one huge file's transaction) is deleted as before.
    ///
    /// Kept as is, the file would still hold the last transactions' frames, valid to the next
    /// opener's recovery, which would read them all and copy them into the database again.
    /// So once a checkpoint has copied every
    /// frame, one tiny write transaction (user_version set to itself) makes SQLite restart
    /// the WAL from its start with a new header: the old frames no longer match it. The
    /// close then checkpoints that transaction too, and keeps the file
    /// (SQLITE_FCNTL_PERSIST_WAL on the writer, which closes last: the readers are closed
    /// first). If anything else holds the WAL (a reader of another process), the restart
    /// does not happen and the WAL is left to SQLite's usual close.
    private func keepWALForTheNextRun() {
        pool.releaseMemory()  // closes the readers: the writer is the last connection
        let walPath = path + "-wal"
        let bound = keptWALBytes
        try? pool.writeWithoutTransaction { db in
            guard let connection = db.sqliteConnection else { return }
            var frames: Int32 = 0
            var copied: Int32 = 0
            guard
                sqlite3_wal_checkpoint_v2(connection, nil, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied)
                    == SQLITE_OK, frames == copied
            else { return }
            let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            try db.execute(sql: "PRAGMA user_version = \(version)")
            guard
                sqlite3_wal_checkpoint_v2(connection, nil, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied)
                    == SQLITE_OK, frames == copied, frames <= 8,
                let size = try? FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int,
                size <= bound
            else { return }
            var persist: Int32 = 1
            sqlite3_file_control(connection, "main", SQLITE_FCNTL_PERSIST_WAL, &persist)
        }
    }
}

/// Errors opening the store, with what to do about them.
enum StoreError: Error, CustomStringConvertible, Equatable {
    case databaseMissing(path: String)
    case schemaTooNew(path: String, unknown: [String])
    case notAPodpipeDatabase(path: String)
    case missingResource(name: String)
    /// A database of another application (see ``DatabaseOwnership``).
    case foreignDatabase(path: String, reason: String)
    /// The database file has more than one name (hard links).
    case hardLinked(path: String, links: Int)
    /// The database was deleted or replaced under the running writer.
    case databaseGone(path: String, replaced: Bool)
    /// A read-only user cannot read it safely (see ``ReadAccess``).
    case unreadable(path: String, reason: String)
    /// A PostgreSQL URI (shown without its password) given to the SQLite store.
    case notAFile(location: String)

    var description: String {
        switch self {
        case .databaseMissing(let path):
            "database \(path) does not exist: run `podpiped --once` (or start the daemon) to create it, or pass --database"
        case .schemaTooNew(let path, let unknown):
            "database \(path) has schema migrations this podpipe does not know (\(unknown.joined(separator: ", "))): it was written by a newer version; upgrade podpipe"
        case .notAPodpipeDatabase(let path):
            "\(path) is not a podpipe database (no schema migrations applied)"
        case .missingResource(let name):
            "the SQL resource \(name) is missing from the podpipe installation"
        case .foreignDatabase(let path, let reason):
            "\(path) is not a podpipe database: \(reason). podpipe does not write into another application's file; point --database (or PODPIPE_DATABASE, database in the configuration) at a podpipe database or a new path"
        case .hardLinked(let path, let links):
            "database \(path) has \(links) names (hard links): SQLite keeps the WAL beside the name a database is opened by, so two names mean two WALs and a corrupt database. Remove the other names (find / -xdev -samefile \(path)) and use one path; a symbolic link is fine"
        case .databaseGone(let path, let replaced):
            replaced
                ? "the database \(path) was replaced by another file while podpiped was writing it: the open database is no longer the one at that path, so podpiped stops rather than write where nobody will read. Start podpiped again to use the file now at \(path)"
                : "the database \(path) was deleted while podpiped was writing it: rows written to a deleted file are lost with it, so podpiped stops. Restore the database and start podpiped again (a start without it creates a new database and loads every file of the drop folder again)"
        case .unreadable(let path, let reason):
            "cannot read the database \(path): \(reason)"
        case .notAFile(let location):
            "\(location) is a PostgreSQL database, not a SQLite file: this podpipe opened it as a file by mistake; please report it"
        }
    }
}
