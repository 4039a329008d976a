import Foundation
import GRDB
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The long-running daemon on a full filesystem: it stays up, records the file `failed`
/// with a next attempt (backoff), says so on stderr and in `podpipectl status`, never marks
/// the file loaded, and still stops cleanly on SIGTERM.
@Suite("Faults (daemon)", .serialized)
struct FaultDaemonTests {
    @Test("full filesystem: the daemon stays up, the file is failed with backoff, status is unhealthy")
    func daemonOnFullFilesystem() throws {
        let box = try Sandbox()
        try withTmpfs(box, size: "2m") { _, database in
            try box.drop("a-small.json", FaultTests.events(10), mtime: 1_700_000_000)
            let daemon = try DaemonProcess(
                box: box, arguments: ["--data-load", box.dataLoad, "--database", database],
                env: ["PODPIPE_WATCH_RESCAN_INTERVAL": "1"])
            #expect(daemon.waitReady(), "\(daemon.stderr.suffix(2000))")
            let queue = try DatabaseQueue(path: database)
            func state(_ name: String) -> String? {
                try? queue.read { db in
                    try String.fetchOne(
                        db, sql: "SELECT state FROM ingest_file WHERE name = ? ORDER BY file_id DESC LIMIT 1",
                        arguments: [name])
                }
            }
            #expect(eventually(timeout: 60) { state("a-small.json") == "loaded" })
            try box.drop("b-big.json", FaultTests.events(60_000, start: 10), mtime: 1_700_000_100)
            #expect(
                eventually(timeout: 120) { state("b-big.json") == "failed" }, "\(daemon.stderr.suffix(2000))")
            #expect(daemon.process.isRunning, "the daemon stays up")
            let next = try queue.read { db in
                try String.fetchOne(
                    db,
                    sql:
                        "SELECT next_attempt_at FROM ingest_file WHERE name = 'b-big.json' AND state = 'failed'"
                )
            }
            #expect(next != nil, "a next attempt is scheduled")
            #expect(daemon.stderr.contains("will retry"), "\(daemon.stderr.suffix(2000))")
            #expect(daemon.stderr.contains("full"), "\(daemon.stderr.suffix(2000))")
            let status = try Binaries.run(
                "podpipectl", ["--database", database, "--data-load", box.dataLoad, "status", "--json"])
            #expect(status.status != 0, "status reports the failure: \(status.stdout)")
            let object = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            let files = object?["files"] as? [String: Any]
            #expect((files?["failed"] as? Int) == 1, "\(status.stdout)")
            #expect(state("b-big.json") != "loaded")
            let stopped = daemon.stop()
            #expect(stopped?.status == 0, "\(daemon.stderr.suffix(2000))")
            let silver = try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM silver_event")
            }
            #expect(silver == 10)
            #expect(try invariantViolations(database) == [])
        }
    }
}
