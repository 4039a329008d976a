import Foundation
import Testing

@testable import PodpipeCore

#if canImport(Glibc)
    import Glibc
#endif

@Suite("writer lock")
struct WriterLockTests {
    func tempDatabase() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("lock-\(UUID().uuidString).sqlite").path
    }

    @Test func aBriefSharedLockFromStatusDoesNotRefuseAWriter() throws {
        let database = tempDatabase()
        defer { try? FileManager.default.removeItem(atPath: database) }
        // Another open file description of the database file: what another process's
        // `isHeld` uses (the lock is on the database file itself).
        let fd = open(database, O_RDWR | O_CREAT, 0o644)
        #expect(fd >= 0)
        defer { close(fd) }
        // What `WriterLock.isHeld` does, held a little longer than it ever is.
        #expect(flock(fd, LOCK_SH | LOCK_NB) == 0)
        // A plain thread (Dispatch's pool may be busy with other tests' processes).
        let release = Thread {
            usleep(50_000)
            flock(fd, LOCK_UN)
        }
        release.start()
        let lock = try WriterLock.acquire(database: database)
        #expect(WriterLock.isHeld(database: database))
        withExtendedLifetime(lock) {}
    }

    @Test func aHeldLockRefusesASecondWriterWithItsHolder() throws {
        let database = tempDatabase()
        defer { try? FileManager.default.removeItem(atPath: database) }
        let first = try WriterLock.acquire(database: database)
        var refusal: String?
        do {
            let second = try WriterLock.acquire(database: database)
            withExtendedLifetime(second) {}
        } catch {
            refusal = "\(error)"
        }
        #expect(refusal?.contains("another podpipe writer") == true)
        // The holder, read from /proc/locks.
        #expect(refusal?.contains("pid \(getpid())") == true)
        withExtendedLifetime(first) {}
    }
}
