import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The single-writer guard (SPEC §6): an exclusive `flock` on `<database>.lock`, held for
/// the writer's lifetime. A second `podpiped` or an overlapping `--once` fails at once.
/// The kernel drops the lock when the process dies, so a crash never leaves it stale.
/// Readers (`podpipectl` read-only commands) never take it.
public final class WriterLock: Sendable {
    public let path: String
    private let fd: Int32

    public static func acquire(database: String) throws(PipelineError) -> WriterLock {
        let path = database + ".lock"
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw PipelineError.database(
                message: "cannot create the lock file \(path): \(String(cString: strerror(errno)))",
                file: nil)
        }
        // `isHeld` (podpipectl status) takes a shared lock for a few microseconds: retry
        // briefly so that a status check never makes a starting writer fail. A real writer
        // holds the lock for good, so this still fails fast (~0.5 s).
        var locked = flock(fd, LOCK_EX | LOCK_NB) == 0
        var tries = 0
        while !locked && errno == EWOULDBLOCK && tries < 25 {
            usleep(20_000)
            tries += 1
            locked = flock(fd, LOCK_EX | LOCK_NB) == 0
        }
        if !locked {
            var holder: String?
            var buffer = [UInt8](repeating: 0, count: 128)
            let n = pread(fd, &buffer, buffer.count, 0)
            if n > 0 {
                holder = String(decoding: buffer[0..<n], as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            close(fd)
            throw PipelineError.anotherWriter(database: database, lockFile: path, holder: holder)
        }
        let note = "pid \(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = note.withCString { pwrite(fd, $0, strlen($0), 0) }
        return WriterLock(path: path, fd: fd)
    }

    /// Whether some process holds the lock now (for status), without taking it.
    public static func isHeld(database: String) -> Bool {
        let fd = open(database + ".lock", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return true
    }

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
