import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What a file *is*, whatever name reaches it: its device and inode. Two paths name the same
/// file (a hard link, a symbolic link, a `..` path) exactly when their identities are equal.
struct FileIdentity: Hashable, Sendable, CustomStringConvertible {
    let device: UInt64
    let inode: UInt64

    init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    init(_ st: stat) {
        self.init(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    /// The identity of the file `path` names, following symbolic links; nil when nothing is
    /// there (or it cannot be reached).
    static func of(path: String) -> FileIdentity? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileIdentity(st)
    }

    var description: String { "device \(device), inode \(inode)" }
}

/// The files that belong to a database: the file itself and those SQLite (and older podpipe
/// versions) keep beside it. SQLite names them after the database's resolved path.
enum DatabaseFile {
    /// `-wal` and `-shm` (WAL mode), `-journal` (a rollback journal), `.lock` (the lock file
    /// of podpipe versions before the lock moved onto the database file).
    static let companionSuffixes = ["-wal", "-shm", "-journal", ".lock"]

    /// The database's path with symbolic links and `..` resolved (as SQLite resolves it to
    /// name its WAL). A path that does not resolve (nothing there yet) is returned as is.
    static func resolvedPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The identities of the database and of its companion files that exist now: what the
    /// drop folder must never ingest, whatever their names there.
    static func identities(of database: String) -> Set<FileIdentity> {
        let resolved = resolvedPath(database)
        var found: Set<FileIdentity> = []
        for path in [database, resolved] + companionSuffixes.map({ resolved + $0 }) {
            if let identity = FileIdentity.of(path: path) { found.insert(identity) }
        }
        return found
    }

    /// The number of names (hard links) the file at `path` has, nil when it does not exist.
    static func linkCount(_ path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int(st.st_nlink)
    }
}

/// Advisory locks on database files themselves (`flock(2)`), by file identity, for the
/// whole process.
///
/// The lock is taken on the database file, not on a file named after its path, so that every
/// name of the file (a hard link, a symbolic link, a `..` path, a dangling link that a writer
/// turned into the file) meets the same lock. `flock` locks and SQLite's own `fcntl` locks on
/// the same file are independent on Linux; they never conflict.
///
/// A descriptor opened on a database file here is **never closed**: POSIX `fcntl` locks
/// belong to the process and the inode, and closing *any* descriptor of the file drops every
/// one of them, including those SQLite's connections in this process hold. So each file gets
/// one descriptor for the life of the process (one per database a process ever locks), and
/// releasing a lock is `LOCK_UN` on it.
final class DatabaseFileLocks: Sendable {
    static let shared = DatabaseFileLocks()

    private struct Entry {
        var fd: Int32
        var exclusive = false
        var sharedHolders = 0
    }

    /// The outcome of one attempt at a lock.
    enum Attempt: Equatable {
        case locked(FileIdentity)
        case busy(FileIdentity)
        case failed(String)
    }

    private let entries = Mutex<[FileIdentity: Entry]>([:])

    /// One attempt at the exclusive lock of the file `path` names (created empty when
    /// `create` and missing, through a dangling symbolic link too: the link's target).
    func tryExclusive(path: String, create: Bool) -> Attempt {
        switch descriptor(path: path, create: create) {
        case .failure(let failure): return .failed(failure.message)
        case .success((let identity, let fd)):
            return entries.withLock { table in
                guard var entry = table[identity] else { return .failed("no descriptor") }
                if entry.exclusive || entry.sharedHolders > 0 { return .busy(identity) }
                guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return .busy(identity) }
                entry.exclusive = true
                table[identity] = entry
                return .locked(identity)
            }
        }
    }

    /// A shared lock (an immutable reader's guard against a writer starting under it).
    func tryShared(path: String) -> Attempt {
        switch descriptor(path: path, create: false) {
        case .failure(let failure): return .failed(failure.message)
        case .success((let identity, let fd)):
            return entries.withLock { table in
                guard var entry = table[identity] else { return .failed("no descriptor") }
                if entry.exclusive { return .busy(identity) }
                if entry.sharedHolders == 0 {
                    guard flock(fd, LOCK_SH | LOCK_NB) == 0 else { return .busy(identity) }
                }
                entry.sharedHolders += 1
                table[identity] = entry
                return .locked(identity)
            }
        }
    }

    /// Releases an exclusive lock or one shared holder.
    func unlock(_ identity: FileIdentity, exclusive: Bool) {
        entries.withLock { table in
            guard var entry = table[identity] else { return }
            if exclusive {
                entry.exclusive = false
            } else {
                entry.sharedHolders = max(0, entry.sharedHolders - 1)
            }
            if !entry.exclusive && entry.sharedHolders == 0 { flock(entry.fd, LOCK_UN) }
            table[identity] = entry
        }
    }

    /// Whether some writer (this process or another) holds the exclusive lock on the file
    /// `path` names now. Never creates the file.
    func isHeldExclusively(path: String) -> Bool {
        guard case .success((let identity, let fd)) = descriptor(path: path, create: false) else {
            return false
        }
        return entries.withLock { table in
            guard let entry = table[identity] else { return false }
            if entry.exclusive { return true }
            // Our own shared holders already have LOCK_SH: another process's exclusive lock
            // could not exist beside it.
            if entry.sharedHolders > 0 { return false }
            guard flock(fd, LOCK_SH | LOCK_NB) == 0 else { return true }
            flock(fd, LOCK_UN)
            return false
        }
    }

    /// The descriptor of the file `path` names (opened once per identity, then reused).
    private func descriptor(path: String, create: Bool) -> Result<(FileIdentity, Int32), Failure> {
        if let identity = FileIdentity.of(path: path),
            let fd = entries.withLock({ $0[identity]?.fd })
        {
            return .success((identity, fd))
        }
        if create {
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty {
                try? FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true)
            }
        }
        // O_RDONLY is enough for flock; O_CREAT follows a dangling symbolic link and creates
        // its target, which SQLite then opens as an empty (new) database.
        let fd = open(path, O_RDONLY | O_CLOEXEC | (create ? O_CREAT : 0), 0o644)
        guard fd >= 0 else { return .failure(Failure(String(cString: strerror(errno)))) }
        var st = stat()
        // Left open even then (see above): SQLite may have the file open in this process.
        guard fstat(fd, &st) == 0 else { return .failure(Failure(String(cString: strerror(errno)))) }
        let identity = FileIdentity(st)
        let kept = entries.withLock { table -> Int32 in
            if let existing = table[identity] { return existing.fd }
            table[identity] = Entry(fd: fd)
            return fd
        }
        // Another thread registered the same file first: this descriptor is surplus. It is
        // kept open as well (closing it would drop this process's SQLite locks on the file).
        return .success((identity, kept))
    }

    struct Failure: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }
}

/// The holder of a `flock` on a file, read from `/proc/locks` (Linux): which process to name
/// in "another writer holds the database" without keeping a note of it anywhere.
enum LockHolder {
    /// The pid holding a `FLOCK … WRITE` lock on `identity`, from the text of `/proc/locks`
    /// (lines like `1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF`, the device as
    /// hex major:minor). A lock whose device does not match is taken only when no line
    /// matches both (file systems such as btrfs report another device in `stat`).
    static func pid(inLocks text: String, of identity: FileIdentity) -> Int32? {
        let major = ((identity.device >> 8) & 0xfff) | ((identity.device >> 32) & ~0xfff)
        let minor = (identity.device & 0xff) | ((identity.device >> 12) & ~0xff)
        var inodeOnly: Int32?
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "FLOCK", fields[3] == "WRITE",
                let pid = Int32(fields[4])
            else { continue }
            let parts = fields[5].split(separator: ":")
            guard parts.count == 3, UInt64(parts[2]) == identity.inode else { continue }
            if UInt64(parts[0], radix: 16) == major && UInt64(parts[1], radix: 16) == minor {
                return pid
            }
            inodeOnly = inodeOnly ?? pid
        }
        return inodeOnly
    }

    /// "pid N" of the writer holding `path`'s database file, when the system says.
    static func describe(path: String) -> String? {
        guard let identity = FileIdentity.of(path: path),
            let text = try? String(contentsOfFile: "/proc/locks", encoding: .utf8),
            let pid = pid(inLocks: text, of: identity), pid > 0
        else { return nil }
        return "pid \(pid)"
    }
}
