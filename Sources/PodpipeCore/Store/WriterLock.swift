import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The single-writer guard (SPEC §6): an exclusive `flock` on the database file itself, held
/// for the writer's lifetime. A second `podpiped`, an overlapping `--once` or a maintenance
/// command fails at once, through whatever name it reaches the file by (the configured path,
/// a hard link, a symbolic link, a `..` path): the lock is on what the database *is*, not on
/// a name (``DatabaseFileLocks``). The kernel drops the lock when the process dies, so a crash
/// never leaves it stale. Readers (`podpipectl` read-only commands) never take it.
///
/// A missing database file is created empty here (through a dangling symbolic link: its
/// target), so that the writer that creates a database holds its lock from the first byte.
final class WriterLock: Sendable {
    /// The configured database path.
    let path: String
    /// The file locked.
    let identity: FileIdentity

    static func acquire(database: String) throws(PipelineError) -> WriterLock {
        // `isHeld` (podpipectl status) takes a shared lock for a few microseconds: retry
        // briefly so that a status check never makes a starting writer fail. A real writer
        // holds the lock for good, so this still fails fast (~0.5 s).
        var tries = 0
        while true {
            switch DatabaseFileLocks.shared.tryExclusive(path: database, create: true) {
            case .locked(let identity):
                return WriterLock(path: database, identity: identity)
            case .failed(let reason):
                throw PipelineError.database(
                    message:
                        "cannot open the database file \(database) to lock it: \(reason); check the path and its folder's permissions",
                    file: nil)
            case .busy:
                tries += 1
                if tries >= 25 {
                    throw PipelineError.anotherWriter(
                        database: database, lockFile: DatabaseFile.resolvedPath(database),
                        holder: LockHolder.describe(path: database))
                }
                usleep(20_000)
            }
        }
    }

    /// Whether some process holds the lock now (for status), without taking it. Never
    /// creates the database.
    static func isHeld(database: String) -> Bool {
        DatabaseFileLocks.shared.isHeldExclusively(path: database)
    }

    /// "pid N" of the process holding the lock, when the system says (`/proc/locks`).
    static func holder(database: String) -> String? {
        LockHolder.describe(path: database)
    }

    private init(path: String, identity: FileIdentity) {
        self.path = path
        self.identity = identity
    }

    deinit {
        DatabaseFileLocks.shared.unlock(identity, exclusive: true)
    }
}
