import Foundation
import GRDB
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The long-running daemon on a full filesystem: it stays up, records the file `failed`
/// with a next attempt (backoff), says so on stderr and in `podpipectl status`, never marks
/// the file loaded, retries the file when its backoff ends and loads it once there is room,
/// and still stops cleanly on SIGTERM.
@Suite("Faults (daemon)", .serialized)
struct FaultDaemonTests {
    /// Starts the daemon on `database` (on an 8 MB tmpfs), lets it load a small file, then
    /// drops one that does not fit and waits until it is recorded `failed`.
    static func daemonWithAFailedFile(_ box: Sandbox, database: String, env: [String: String]) throws
        -> DaemonProcess
    {
        try box.drop("a-small.json", FaultTests.events(10), mtime: 1_700_000_000)
        let daemon = try DaemonProcess(
            box: box, arguments: ["--data-load", box.dataLoad, "--database", database], env: env)
        #expect(daemon.waitReady(), "\(daemon.stderr.suffix(2000))")
        #expect(eventually(timeout: 60) { try state("a-small.json", database) == "loaded" })
        try box.drop("b-big.json", FaultTests.events(60_000, start: 10), mtime: 1_700_000_100)
        #expect(
            eventually(timeout: 120) { try state("b-big.json", database) == "failed" },
            "\(daemon.stderr.suffix(2000))")
        #expect(daemon.process.isRunning, "the daemon stays up")
        return daemon
    }

    /// The newest ledger row of `name`.
    static func row(_ name: String, _ database: String) throws -> Row? {
        try DatabaseQueue(path: database).read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM ingest_file WHERE name = ? ORDER BY file_id DESC LIMIT 1",
                arguments: [name])
        }
    }

    static func state(_ name: String, _ database: String) throws -> String? {
        try row(name, database)?["state"]
    }

    static func status(_ box: Sandbox, database: String, _ args: [String] = []) throws -> ProcessResult {
        try Binaries.run(
            "podpipectl", ["--database", database, "--data-load", box.dataLoad, "status"] + args)
    }

    @Test("full filesystem: the daemon stays up, the file is failed with backoff, status is unhealthy")
    func daemonOnFullFilesystem() throws {
        let box = try Sandbox()
        try withTmpfs(box, size: "8m") { _, database in
            let daemon = try Self.daemonWithAFailedFile(
                box, database: database, env: ["PODPIPE_WATCH_RESCAN_INTERVAL": "1"])
            let next: String? = try Self.row("b-big.json", database)?["next_attempt_at"]
            #expect(next != nil, "a next attempt is scheduled")
            #expect(daemon.stderr.contains("will retry"), "\(daemon.stderr.suffix(2000))")
            #expect(daemon.stderr.contains("full"), "\(daemon.stderr.suffix(2000))")
            let status = try Self.status(box, database: database, ["--json"])
            #expect(status.status != 0, "status reports the failure: \(status.stdout)")
            let object = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            let files = object?["files"] as? [String: Any]
            #expect((files?["failed"] as? Int) == 1, "\(status.stdout)")
            #expect(try Self.state("b-big.json", database) != "loaded")
            let stopped = daemon.stop()
            #expect(stopped?.status == 0, "\(daemon.stderr.suffix(2000))")
            let silver = try DatabaseQueue(path: database).read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM silver_event")
            }
            #expect(silver == 10)
            #expect(try invariantViolations(database) == [])
        }
    }

    @Test(
        "a failed file is retried when its backoff ends, not at the next rescan, and loads once there is room"
    )
    func retriedWhenTheBackoffEnds() throws {
        let box = try Sandbox()
        try withTmpfs(box, size: "8m") { mountPoint, database in
            // The first retry 3 s after the failure (then 6 s, 12 s …); the folder is listed
            // in full only every 10 minutes, so a retry within the test is the backoff's.
            let daemon = try Self.daemonWithAFailedFile(
                box, database: database,
                env: ["PODPIPE_INGEST_RETRY_BACKOFF": "3", "PODPIPE_WATCH_RESCAN_INTERVAL": "600"])
            let failed = try #require(try Self.row("b-big.json", database))
            let finishedAt: String = failed["finished_at"] ?? ""
            let nextAt: String = failed["next_attempt_at"] ?? ""
            let attempts: Int = failed["attempts"] ?? 0
            let backoff = Self.seconds(nextAt) - Self.seconds(finishedAt)
            #expect(
                backoff >= 2 && backoff <= 3 * pow(2, Double(attempts - 1)) + 1,
                "attempt \(attempts): failed at \(finishedAt), next at \(nextAt)")
            #expect(daemon.stderr.contains("file failed, will retry"), "\(daemon.stderr.suffix(2000))")
            #expect(daemon.stderr.contains("next_attempt_at="), "\(daemon.stderr.suffix(2000))")

            // status shows the failed file with its attempts and next attempt.
            let json = try Self.status(box, database: database, ["--json"])
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            let errors = object?["last_errors"] as? [[String: Any]] ?? []
            let entry = errors.first { ($0["file"] as? String) == "b-big.json" }
            #expect(entry?["state"] as? String == "failed", "\(json.stdout)")
            #expect((entry?["attempts"] as? Int ?? 0) >= 1, "\(json.stdout)")
            #expect(entry?["next_attempt_at"] is String, "\(json.stdout)")
            let text = try Self.status(box, database: database)
            #expect(text.stdout.contains("b-big.json  [failed, attempt "), "\(text.stdout)")
            #expect(text.stdout.contains(", next 20"), "\(text.stdout)")

            // Room again: the next retry (when its backoff ends) loads the file, once.
            let grown = try Binaries.runTool("/bin/mount", ["-o", "remount,size=256m", mountPoint])
            #expect(grown.status == 0, "\(grown.stderr)")
            #expect(
                eventually(timeout: 90) { try Self.state("b-big.json", database) == "loaded" },
                "\(daemon.stderr.suffix(3000))")
            let loaded = try #require(try Self.row("b-big.json", database))
            let startedAt: String = loaded["started_at"] ?? ""
            #expect(startedAt >= nextAt, "retried at \(startedAt), before its backoff ended (\(nextAt))")
            #expect((loaded["attempts"] as Int? ?? 0) > attempts)
            #expect(loaded["rows_loaded"] == 60_000)
            #expect(daemon.stderr.contains("file loaded"), "\(daemon.stderr.suffix(2000))")
            let after = try Self.status(box, database: database, ["--json"])
            let afterObject =
                try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any]
            #expect((afterObject?["files"] as? [String: Any])?["failed"] as? Int == 0, "\(after.stdout)")
            #expect(daemon.stop()?.status == 0, "\(daemon.stderr.suffix(2000))")
            #expect(try invariantViolations(database) == [])
            let rows = try LedgerRow.all(database).map { "\($0.name)=\($0.state)" }
            #expect(rows == ["a-small.json=loaded", "b-big.json=loaded"])
        }
    }

    /// Seconds since the epoch of the ledger's `YYYY-MM-DDTHH:MM:SSZ` text.
    static func seconds(_ text: String) -> Double {
        let formatter = ISO8601DateFormatter()
        return formatter.date(from: text)?.timeIntervalSince1970 ?? 0
    }
}
