import Foundation
import GRDBSQLite

/// Runs the WAL checkpoints on a thread (and a connection) of its own, so that copying a
/// committed file's pages from the WAL into the database file overlaps the next file's load
/// (or the gold refresh) on the other core instead of stalling the writer.
///
/// SQLite's default, `wal_autocheckpoint = 1000`, checkpoints inside the COMMIT that takes
/// the WAL past 1,000 pages, on the writer's thread, which then stalls (doc/performance.md
/// has the cost). The writer connection gets this
/// type's WAL hook instead (`sqlite3_wal_hook` replaces the auto-checkpoint): after each
/// commit it wakes the checkpoint thread, which runs a PASSIVE checkpoint (never blocks the
/// writer or readers) on its own connection.
///
/// The WAL file restarts from its beginning only when a write transaction begins with every
/// frame already copied. A writer that never waits would let it grow with every file, so
/// once it holds `waitFrames` frames, the commit waits for the running checkpoint to finish:
/// the next transaction then rewinds the WAL. The WAL stays under about `waitFrames` plus
/// one transaction's pages: ``defaultWaitBytes`` of the database's pages unless told.
///
/// The commit that ends an ingest pass does not wait (``letTheNextCommitGoOn()``): its wait
/// is owed. Gold's full rebuild runs beside the checkpoint instead of after it (on the
/// seed-shaped 1M, the last group's checkpoint took 2 s of syncs and copying before the
/// rebuild could start: doc/performance.md, session 14); an incremental refresh, measured
/// slower beside the copy, takes the owed wait first (``takeOwedWait()``). Otherwise the next
/// commit waits as usual, so the WAL holds at most the bound plus two transactions' pages.
///
/// Without the thread (not started, stopped, or its connection failed to open) the hook
/// checkpoints inline past 1,000 frames, as SQLite's default does.
final class WALCheckpointer: @unchecked Sendable {
    /// Bytes of WAL from which a commit waits for the checkpoint, whatever the page size
    /// (``start()`` turns them into frames of the database's pages).
    static let defaultWaitBytes = 128 << 20
    /// SQLite's own auto-checkpoint threshold, used when no thread runs.
    static let inlineFrames: Int32 = 1_000

    let path: String
    /// Frames in the WAL from which a commit waits: as given, or ``defaultWaitBytes`` of the
    /// database's pages once ``start()`` has read the page size.
    private var waitFrames: Int32
    private let waitFramesGiven: Bool
    private let condition = NSCondition()
    private var requested = false
    private var running = false
    private var active = false
    private var stopping = false
    private var finished = true
    private var nextCommitGoesOn = false
    /// The last commit went on past the bound without waiting (see ``takeOwedWait()``).
    private var owesWait = false
    /// Commits that waited for the checkpoint (tests).
    private var waits = 0

    /// - Parameter waitFrames: the frames from which a commit waits (tests make it small);
    ///   nil: ``defaultWaitBytes`` of the database's pages.
    init(path: String, waitFrames: Int32? = nil) {
        self.path = path
        // Until start() reads the database's page size: a new database's.
        self.waitFrames = max(
            1, waitFrames ?? Self.frames(of: Self.defaultWaitBytes, pageSize: Store.newDatabasePageSize))
        self.waitFramesGiven = waitFrames != nil
    }

    /// `bytes` of WAL in frames of `pageSize` bytes (at least one; a page size SQLite would
    /// never report, zero or negative, counts as its smallest, 512).
    static func frames(of bytes: Int, pageSize: Int) -> Int32 {
        Int32(clamping: max(1, bytes / max(512, pageSize)))
    }

    /// Installs the hook on the writer's connection (call from `prepareDatabase`).
    /// The hook holds the checkpointer strongly: a connection may outlive its `Store`.
    func install(on connection: OpaquePointer) {
        sqlite3_wal_hook(
            connection,
            { context, connection, _, frames in
                guard let context, let connection else { return SQLITE_OK }
                Unmanaged<WALCheckpointer>.fromOpaque(context).takeUnretainedValue()
                    .committed(frames: frames, writer: connection)
                return SQLITE_OK
            }, Unmanaged.passRetained(self).toOpaque())
    }

    /// Starts the checkpoint thread with its own connection to the (existing, WAL) database.
    /// On failure the hook keeps checkpointing inline.
    func start() {
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK, let handle
        else {
            sqlite3_close(handle)
            return
        }
        // As the writer: the checkpoint syncs the WAL before and the database after copying.
        sqlite3_exec(handle, "PRAGMA synchronous = NORMAL", nil, nil, nil)
        let pageSize = Self.pageSize(handle)
        condition.lock()
        if !waitFramesGiven, let pageSize {
            waitFrames = Self.frames(of: Self.defaultWaitBytes, pageSize: pageSize)
        }
        active = true
        finished = false
        condition.unlock()
        let connection = SendablePointer(handle)
        let thread = Thread { [self] in
            self.loop(connection.pointer)
            sqlite3_close(connection.pointer)
            self.condition.lock()
            self.finished = true
            self.condition.broadcast()
            self.condition.unlock()
        }
        thread.name = "podpipe-checkpoint"
        thread.start()
    }

    /// The frames from which a commit waits, as decided (tests).
    var waitFramesInUse: Int32 {
        condition.lock()
        defer { condition.unlock() }
        return waitFrames
    }

    /// The database's page size, read on the checkpoint thread's connection.
    private static func pageSize(_ connection: OpaquePointer) -> Int? {
        var statement: OpaquePointer?
        defer { sqlite3_finalize(statement) }
        guard sqlite3_prepare_v2(connection, "PRAGMA page_size", -1, &statement, nil) == SQLITE_OK,
            sqlite3_step(statement) == SQLITE_ROW
        else { return nil }
        return Int(sqlite3_column_int64(statement, 0))
    }

    /// Finishes the checkpoint asked for, if any, and ends the thread. Later commits
    /// checkpoint inline.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        active = false
        condition.unlock()
    }

    /// The next commit (of the writer) does not wait for the checkpoint, however large the
    /// WAL: it ends an ingest pass. A commit that fails leaves the word to the next one.
    func letTheNextCommitGoOn() {
        condition.lock()
        nextCommitGoesOn = true
        condition.unlock()
    }

    /// Waits for the checkpoint the last commit did not wait for, if it went on past the bound
    /// (call before a write transaction begins, so that it starts the WAL over).
    func takeOwedWait() {
        condition.lock()
        if owesWait {
            owesWait = false
            waits += 1
            while (requested || running) && !finished { condition.wait() }
        }
        condition.unlock()
    }

    /// Whether the last commit went on past the bound without waiting.
    var owesAWait: Bool {
        condition.lock()
        defer { condition.unlock() }
        return owesWait
    }

    /// Commits so far that waited for the checkpoint to finish (tests).
    var commitsThatWaited: Int {
        condition.lock()
        defer { condition.unlock() }
        return waits
    }

    /// The WAL hook: after each commit of the writer, on its thread, with the number of
    /// frames now in the WAL.
    private func committed(frames: Int32, writer: OpaquePointer) {
        condition.lock()
        let goOn = nextCommitGoesOn
        nextCommitGoesOn = false
        guard active, !stopping else {
            condition.unlock()
            if frames >= Self.inlineFrames {
                sqlite3_wal_checkpoint_v2(writer, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            }
            return
        }
        requested = true
        condition.broadcast()
        owesWait = goOn && frames >= waitFrames
        if frames >= waitFrames && !goOn {
            // Let the checkpoint copy this commit too, so the next transaction rewinds the WAL.
            waits += 1
            while (requested || running) && !finished { condition.wait() }
        }
        condition.unlock()
    }

    private func loop(_ connection: OpaquePointer) {
        condition.lock()
        while true {
            while !requested && !stopping { condition.wait() }
            if !requested { break }  // stopping, nothing left to copy
            requested = false
            running = true
            condition.unlock()
            // BUSY (another checkpoint runs, e.g. a closing connection's) is harmless: the
            // next commit asks again.
            sqlite3_wal_checkpoint_v2(connection, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            condition.lock()
            running = false
            condition.broadcast()
        }
        condition.unlock()
    }
}

/// A C pointer handed to the checkpoint thread, which alone uses it from then on.
private struct SendablePointer: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}
