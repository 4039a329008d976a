import Foundation
import GRDB
import GRDBSQLite

/// The SQLite database file: opening it (WAL), the pragmas, and the schema migrations.
///
/// One writer (the daemon or `--once`, guarded by the writer lock) and any number of
/// readers (`podpipectl`): WAL lets readers see the last committed state while a file's
/// transaction is open, so nobody ever sees half a file or half a gold refresh.
public final class Store: Sendable {
    public let path: String
    public let pool: DatabasePool
    /// The writer's WAL checkpoints, on a thread of their own (nil for read-only stores).
    let checkpointer: WALCheckpointer?
    /// The largest WAL file the writer's close keeps for the next run.
    let keptWALBytes: Int

    /// Opens (creating if needed) the database for writing and applies pending migrations.
    /// `checkpointWaitFrames`: see ``WALCheckpointer`` (tests make it small);
    /// `keptWALBytes`: see ``keepWALForTheNextRun()``.
    public static func openForWriting(
        path: String, checkpointWaitFrames: Int32? = nil, keptWALBytes: Int = defaultKeptWALBytes
    ) throws -> Store {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true)
        }
        var config = Configuration()
        config.busyMode = .timeout(5)
        let checkpointer = WALCheckpointer(
            path: path, waitFrames: checkpointWaitFrames ?? WALCheckpointer.defaultWaitFrames)
        config.prepareDatabase { db in
            // The writer's checkpoints run on another thread (WALCheckpointer).
            if !db.configuration.readonly, let connection = db.sqliteConnection {
                checkpointer.install(on: connection)
            }
            // NORMAL is durable against application crashes in WAL mode (a commit is in
            // the WAL before COMMIT returns); a power loss may drop the last transactions
            // but never corrupts or half-applies one, and the ledger then reloads them.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // 8 KiB pages for a new database (SQLite ignores it once the file has tables, and a
            // WAL database keeps its page size): half the pages, B-tree cells and WAL frames of
            // 4 KiB for the same rows. 1M fresh 8.3 -> 7.9 s; +100k spread over the year into
            // 1M: 1.84-2.20 -> 1.68-1.71 s; 16 KiB measured the same as 8 (doc/performance.md).
            try db.execute(sql: "PRAGMA page_size = 8192")
            // Temporary files, not memory, for the statement journal and gold's temp tables.
            // A file's rows load under a savepoint; with the statement journal in memory,
            // every multi-row INSERT released its statement by walking the whole in-memory
            // sub-journal, which grows with the existing pages a file touches: 100k events
            // spread over a year into 1M took 1.6-2.0 s (8 rows per INSERT: 7-10 s) instead
            // of 0.78 s, and 86 MB instead of 50 MB. (Under systemd, PrivateTmp holds them.)
            try db.execute(sql: "PRAGMA temp_store = FILE")
            // 8 MiB page cache. Bronze, silver (natural key led by ts) and the ledger grow by
            // appends, so a bigger cache does not pay: 64, 16 and 8 MiB loaded 1M events in
            // the same time, and 8 MiB keeps a 1 GB file's load under 64 MB of RSS
            // (doc/performance.md).
            try db.execute(sql: "PRAGMA cache_size = -8192")
            try db.execute(sql: "PRAGMA foreign_keys = OFF")  // integrity is kept by code
        }
        let pool = try DatabasePool(path: path, configuration: config)
        try Migrations.migrator.migrate(pool)
        checkpointer.start()
        return Store(path: path, pool: pool, checkpointer: checkpointer, keptWALBytes: keptWALBytes)
    }

    /// Opens an existing database read-only (podpipectl). Never creates the file, never
    /// takes the writer lock, fails clearly on a missing file or a newer schema.
    public static func openForReading(path: String) throws -> Store {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError.databaseMissing(path: path)
        }
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(5)
        let pool = try DatabasePool(path: path, configuration: config)
        try pool.read { db in
            let applied = try Migrations.migrator.appliedIdentifiers(db)
            let known = Set(Migrations.migrator.migrations)
            if !applied.isSubset(of: known) {
                throw StoreError.schemaTooNew(
                    path: path, unknown: applied.subtracting(known).sorted())
            }
            if applied.isEmpty {
                throw StoreError.notAPodpipeDatabase(path: path)
            }
        }
        return Store(path: path, pool: pool)
    }

    init(path: String, pool: DatabasePool, checkpointer: WALCheckpointer? = nil, keptWALBytes: Int = 0) {
        self.path = path
        self.keptWALBytes = keptWALBytes
        self.pool = pool
        self.checkpointer = checkpointer
    }

    deinit {
        // The last checkpoint asked for completes before the store goes.
        checkpointer?.stop()
        if checkpointer != nil { keepWALForTheNextRun() }
    }

    /// The most bytes of WAL file kept for the next run (see ``keepWALForTheNextRun()``):
    /// twice the daemon's own bound (``WALCheckpointer/defaultWaitFrames`` of 8 KiB pages).
    public static let defaultKeptWALBytes = 256 << 20

    /// Arranges for the writer's close to keep the WAL file (emptied) instead of deleting it,
    /// when it is at most `keptWALBytes` (256 MiB unless opened with another bound): the
    /// next run writes its frames into the file's blocks instead of allocating new ones, and
    /// nobody frees them. Deleting an 80 MB WAL took ~50 ms here (ext4 mounted with
    /// `discard` trims freed blocks), and writing into a kept one saved as much again:
    /// +100k events 1.28-1.31 -> 1.08-1.14 s (doc/performance.md). A larger WAL (one huge
    /// file's transaction) is deleted as before.
    ///
    /// Kept as is, the file would still hold the last transactions' frames, valid to the next
    /// opener's recovery, which would read them all and copy them into the database again
    /// (measured: +100k took 1.7 s after such a WAL). So once a checkpoint has copied every
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
public enum StoreError: Error, CustomStringConvertible, Equatable {
    case databaseMissing(path: String)
    case schemaTooNew(path: String, unknown: [String])
    case notAPodpipeDatabase(path: String)
    case missingResource(name: String)

    public var description: String {
        switch self {
        case .databaseMissing(let path):
            "database \(path) does not exist: run `podpiped --once` (or start the daemon) to create it, or pass --database"
        case .schemaTooNew(let path, let unknown):
            "database \(path) has schema migrations this podpipe does not know (\(unknown.joined(separator: ", "))): it was written by a newer version; upgrade podpipe"
        case .notAPodpipeDatabase(let path):
            "\(path) is not a podpipe database (no schema migrations applied)"
        case .missingResource(let name):
            "the SQL resource \(name) is missing from the podpipe installation"
        }
    }
}
