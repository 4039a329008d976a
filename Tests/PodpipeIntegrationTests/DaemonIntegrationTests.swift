import Foundation
import GRDB
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The long-running daemon, started for real in a temporary folder with a notify socket
/// bound by the test. Intervals are shortened through the environment; every wait polls a
/// condition with a timeout.
@Suite("daemon: the long-running podpiped", .serialized)
struct DaemonIntegrationTests {
    /// Copies with cp(1), renames in from outside, and a producer that writes for two
    /// seconds: each file loaded exactly once, never read half-written.
    static func dropEveryWay(_ box: Sandbox) throws {
        let outside = box.root.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        // cp(1): create, write, close-after-write in the folder itself.
        try Data(eventLines(40, seed: 1).utf8).write(to: outside.appendingPathComponent("copied.json"))
        let cp = try Binaries.runProgram(
            "/bin/cp", [outside.appendingPathComponent("copied.json").path, box.dataLoad + "/copied.json"])
        #expect(cp.status == 0)
        // Rename-in: written elsewhere, moved into the folder in one step.
        try Data(eventLines(30, seed: 2).utf8).write(to: outside.appendingPathComponent("renamed.ndjson"))
        try FileManager.default.moveItem(
            atPath: outside.appendingPathComponent("renamed.ndjson").path,
            toPath: box.dataLoad + "/renamed.ndjson")
        // A temporary name renamed when done (ignored until then).
        try Data(eventLines(20, seed: 3).utf8).write(
            to: URL(fileURLWithPath: box.dataLoad + "/tmpnamed.json.part"))
        try FileManager.default.moveItem(
            atPath: box.dataLoad + "/tmpnamed.json.part", toPath: box.dataLoad + "/tmpnamed.json")
        // A slow writer in the folder itself: 2 s, 20 chunks of 10 lines.
        let lines = eventLines(200, seed: 4).split(separator: "\n", omittingEmptySubsequences: true)
        // One open(2), twenty write(2)s, one close(2): a single close-after-write at the end.
        let fd = open(box.dataLoad + "/slow.json", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        for chunk in 0..<20 {
            let text = lines[(chunk * 10)..<(chunk * 10 + 10)].joined(separator: "\n") + "\n"
            let written = text.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
            #expect(written == text.utf8.count)
            usleep(100_000)
        }
        close(fd)
    }

    static func expectEveryWayLoadedOnce(_ box: Sandbox, _ daemon: DaemonProcess) throws {
        let expected = ["copied.json": 40, "renamed.ndjson": 30, "tmpnamed.json": 20, "slow.json": 200]
        let all = eventually(timeout: 30) { expected.keys.allSatisfy { box.isRecorded($0) } }
        let ledgerNow = (try? box.rows("SELECT name, state, rows_read FROM ingest_file")) ?? []
        #expect(all, "not all loaded; ledger: \(ledgerNow)\n\(daemon.stderr)")
        for (name, rows) in expected {
            let ledger = try box.ledger(name)
            #expect(ledger.count == 1, "\(name) recorded \(ledger.count) times")
            #expect(ledger.first?["rows_read"] == rows, "\(name)")
            #expect(ledger.first?["rows_loaded"] == rows, "\(name)")
        }
        #expect(try box.query("SELECT count(*) FROM ingest_file") == 4)
        #expect(try box.query("SELECT count(*) FROM silver_event") == 290)
        #expect(try box.query("SELECT count(*) FROM bronze_event") == 290)
        #expect(try box.query("SELECT count(*) FROM ingest_file WHERE name LIKE '%.part'") == 0)
    }

    @Test func inotifyModeLoadsEveryWayOfDroppingAFileOnceAndRefreshesGold() throws {
        let box = try Sandbox()
        let daemon = try DaemonProcess(
            box: box,
            env: [
                "PODPIPE_WATCH_MODE": "inotify", "PODPIPE_WATCH_RESCAN_INTERVAL": "1",
                "PODPIPE_WATCH_SETTLE": "1", "PODPIPE_GOLD_REFRESH_INTERVAL": "1",
            ])
        #expect(daemon.waitReady(), "no READY=1: \(daemon.notify.messages)\n\(daemon.stderr)")
        // A rescan every second must not pick up the slow writer's file early.
        try Self.dropEveryWay(box)
        try Self.expectEveryWayLoadedOnce(box, daemon)

        // Gold on schedule: refreshed after the files, covering every silver event.
        let gold = eventually(timeout: 20) {
            try box.query("SELECT count(*) FROM fact_user_interactions") == 290
                && box.query(
                    "SELECT value FROM pipeline_state WHERE key = 'gold.refreshed_at'", as: String.self)
                    != nil
        }
        #expect(gold, "gold not refreshed: \(daemon.stderr)")
        #expect(
            daemon.notify.waitFor({ $0.hasPrefix("STATUS=idle · 4 files loaded") }) != nil,
            "\(daemon.notify.messages)")

        // podpipectl status: running, with its pid, since, watch mode and last scan.
        let status = try box.ctl(["status", "--json"])
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        let daemonPart = json?["daemon"] as? [String: Any]
        #expect(daemonPart?["state"] as? String == "running", "\(status.stdout)")
        #expect(daemonPart?["pid"] as? Int == Int(daemon.pid))
        #expect(daemonPart?["since"] as? String != nil)
        #expect(daemonPart?["watch_mode"] as? String == "inotify")
        #expect(daemonPart?["last_scan"] as? String != nil)

        // SIGTERM: STOPPING=1, exit 0 quickly, status says stopped and healthy-ish (not 2).
        let stopped = daemon.stop()
        #expect(stopped?.status == 0, "\(daemon.stderr)")
        #expect((stopped?.seconds ?? 99) < 10)
        #expect(daemon.notify.messages.contains { $0.contains("STOPPING=1") })
        let after = try box.ctl(["status", "--json"])
        #expect(after.stdout.contains("\"state\" : \"stopped\""), "\(after.stdout)")
        #expect(after.status != 2, "\(after.stdout)")
    }

    @Test func pollModeWaitsForFilesToSettle() throws {
        let box = try Sandbox()
        let daemon = try DaemonProcess(
            box: box,
            env: [
                "PODPIPE_WATCH_MODE": "poll", "PODPIPE_WATCH_RESCAN_INTERVAL": "1",
                "PODPIPE_WATCH_SETTLE": "1",
                "PODPIPE_GOLD_REFRESH_INTERVAL": "3600",
            ])
        #expect(daemon.waitReady(), "\(daemon.stderr)")
        try Self.dropEveryWay(box)
        try Self.expectEveryWayLoadedOnce(box, daemon)
        let status = try box.ctl(["status", "--json"])
        #expect(status.stdout.contains("\"watch_mode\" : \"poll\""), "\(status.stdout)")
        #expect(daemon.stop()?.status == 0)
    }

    @Test func aBurstOfTwoThousandFilesIsLoadedInOrderExactlyOnce() throws {
        let box = try Sandbox()
        let staging = box.root.appendingPathComponent("staging")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        let count = 2000
        let names = (0..<count).map { String(format: "burst-%04d.json", $0) }
        for (i, name) in names.enumerated() {
            let path = staging.appendingPathComponent(name).path
            try Data(eventLines(3, seed: 1000 + i).utf8).write(to: URL(fileURLWithPath: path))
            try box.setMtime(path, 1_700_000_000 + Double(i))
        }
        let daemon = try DaemonProcess(
            box: box,
            env: [
                "PODPIPE_WATCH_MODE": "inotify", "PODPIPE_WATCH_RESCAN_INTERVAL": "30",
                "PODPIPE_WATCH_SETTLE": "2", "PODPIPE_GOLD_REFRESH_INTERVAL": "2",
            ])
        #expect(daemon.waitReady(), "\(daemon.stderr)")
        let started = Date()
        for name in names {
            guard rename(staging.appendingPathComponent(name).path, box.dataLoad + "/" + name) == 0 else {
                Issue.record("rename failed: \(errno)")
                return
            }
        }
        let done = eventually(timeout: 240) {
            try box.query("SELECT count(*) FROM ingest_file") ?? 0 >= count
        }
        let loadedNow: Int = (try? box.query("SELECT count(*) FROM ingest_file")) ?? -1
        #expect(done, "loaded \(loadedNow) of \(count)")
        print("burst of \(count) files loaded in \(Int(Date().timeIntervalSince(started))) s")
        #expect(try box.query("SELECT count(*) FROM ingest_file") == count)
        #expect(try box.query("SELECT count(DISTINCT name) FROM ingest_file") == count)
        #expect(try box.query("SELECT count(*) FROM ingest_file WHERE state = 'loaded'") == count)
        #expect(try box.query("SELECT count(*) FROM silver_event") == 3 * count)
        // In order: ledger ids follow the files' modification times.
        let order = try box.rows("SELECT name FROM ingest_file ORDER BY file_id").map { $0["name"] as String }
        #expect(order == names)
        #expect(daemon.stop()?.status == 0)
    }

    @Test func aFileWaitingAtStartIsReadOnceSettledNotAtTheNextRescan() throws {
        let box = try Sandbox()
        try box.drop("waiting.json", eventLines(5, seed: 3))
        // Nothing told inotify about the file: it settles for 1 s, then is read; the next
        // full listing would be 10 minutes away.
        let daemon = try DaemonProcess(
            box: box,
            env: [
                "PODPIPE_WATCH_RESCAN_INTERVAL": "600", "PODPIPE_WATCH_SETTLE": "1",
                "PODPIPE_GOLD_REFRESH_INTERVAL": "3600",
            ])
        #expect(daemon.waitReady(), "\(daemon.stderr)")
        #expect(eventually(timeout: 20) { box.isRecorded("waiting.json") }, "\(daemon.stderr)")
        #expect(daemon.stop()?.status == 0)
    }

    /// A file big enough that a debug build is still loading it when SIGTERM arrives (~4 s):
    /// NDJSON events, and a users CSV (the reference loader checks for a stop request every
    /// 4,096 records too).
    struct BigFile: Sendable, CustomStringConvertible {
        var name: String
        var rows: Int
        var description: String { name }

        var content: Data {
            name.hasSuffix(".csv") ? CorpusGenerator.users(rows) : Data(eventLines(rows, seed: 8).utf8)
        }
    }

    static let bigFiles = [
        BigFile(name: "big.json", rows: 60_000), BigFile(name: "users-big.csv", rows: 200_000),
    ]

    @Test(arguments: bigFiles)
    func sigtermMidFileRollsBackAndTheFileLoadsOnceAfterARestart(_ big: BigFile) throws {
        let box = try Sandbox()
        try box.drop("small.json", eventLines(10, seed: 7))
        let env = [
            "PODPIPE_WATCH_MODE": "inotify", "PODPIPE_WATCH_SETTLE": "0",
            "PODPIPE_GOLD_REFRESH_INTERVAL": "3600",
        ]
        let first = try DaemonProcess(box: box, env: env, name: "first")
        #expect(first.waitReady(), "\(first.stderr)")
        #expect(eventually { box.isRecorded("small.json") })
        let outside = box.root.appendingPathComponent(big.name)
        try big.content.write(to: outside)
        try FileManager.default.moveItem(atPath: outside.path, toPath: box.dataLoad + "/" + big.name)
        let midFile = first.notify.waitFor({ $0.hasPrefix("STATUS=ingesting \(big.name)") }, timeout: 30)
        #expect(midFile != nil, "\(first.notify.messages)")
        let stopped = first.stop()
        #expect(stopped?.status == 0, "\(first.stderr)")
        #expect((stopped?.seconds ?? 99) < 15)
        let interrupted = first.stderr.contains("interrupted")
        // Consistent either way: ledger counts match bronze and silver; the file all or nothing.
        let bronzeSQL = "SELECT (SELECT count(*) FROM bronze_event) + (SELECT count(*) FROM bronze_reference)"
        let silverSQL = "SELECT (SELECT count(*) FROM silver_event) + (SELECT count(*) FROM silver_user)"
        let bronze: Int = try box.query(bronzeSQL) ?? -1
        let silver: Int = try box.query(silverSQL) ?? -1
        let ledgerRead: Int = try box.query("SELECT coalesce(sum(rows_read), 0) FROM ingest_file") ?? -2
        let ledgerLoaded: Int = try box.query("SELECT coalesce(sum(rows_loaded), 0) FROM ingest_file") ?? -2
        #expect(bronze == ledgerRead)
        #expect(silver == ledgerLoaded)
        if interrupted {
            #expect(try box.ledger(big.name).isEmpty)
            #expect(bronze == 10)
        } else {
            Issue.record("\(big.name) finished before SIGTERM arrived; the rollback was not exercised")
        }

        let second = try DaemonProcess(box: box, env: env, name: "second")
        #expect(second.waitReady(), "\(second.stderr)")
        #expect(eventually(timeout: 120) { box.isRecorded(big.name) }, "\(second.stderr)")
        #expect(try box.ledger(big.name).count == 1)
        #expect(try box.query(silverSQL) == big.rows + 10)
        #expect(try box.query(bronzeSQL) == big.rows + 10)
        #expect(try box.query("SELECT count(*) FROM ingest_file") == 2)
        #expect(second.stop()?.status == 0)
    }

    @Test func sighupAppliesTheNewConfiguration() throws {
        let box = try Sandbox()
        let other = box.root.appendingPathComponent("other_load").path
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        let configPath = box.root.appendingPathComponent("podpipe.json").path
        func writeConfig(folder: String, mode: String, level: String) throws {
            let json = """
                {"data_load": "\(folder)", "database": "\(box.database)",
                 "watch": {"mode": "\(mode)", "rescan_interval": 60, "settle": 0.2},
                 "gold": {"refresh_interval": 3600}, "log": {"level": "\(level)"}}
                """
            try Data(json.utf8).write(to: URL(fileURLWithPath: configPath))
        }
        try writeConfig(folder: box.dataLoad, mode: "inotify", level: "info")
        let daemon = try DaemonProcess(box: box, arguments: ["--config", configPath])
        #expect(daemon.waitReady(), "\(daemon.stderr)")
        try box.drop("before.json", eventLines(5, seed: 11))
        #expect(eventually { box.isRecorded("before.json") }, "\(daemon.stderr)")

        try writeConfig(folder: other, mode: "poll", level: "debug")
        let mark = daemon.notify.messages.count
        daemon.signal(SIGHUP)
        let reloading = daemon.notify.waitFor({ $0 == "RELOADING=1" }, after: mark)
        #expect(reloading?.contains("MONOTONIC_USEC=") == true, "\(daemon.notify.messages)")
        #expect(daemon.notify.waitForLine("READY=1", after: mark), "\(daemon.notify.messages)")
        #expect(daemon.stderr.contains("configuration reloaded"))
        #expect(daemon.stderr.contains("changed=data_load,watch.mode,log.level"), "\(daemon.stderr)")

        // The new folder is watched (polled), the old one no longer.
        try Data(eventLines(6, seed: 12).utf8).write(to: URL(fileURLWithPath: other + "/after.json"))
        try box.drop("ignored-now.json", eventLines(7, seed: 13))
        #expect(eventually { box.isRecorded("after.json") }, "\(daemon.stderr)")
        let state = try box.rows("SELECT watch_mode, data_load, last_reload_at FROM daemon_state").first
        #expect(state?["watch_mode"] == "poll")
        #expect(state?["data_load"] == other)
        #expect((state?["last_reload_at"] as String?) != nil)
        #expect(try box.ledger("ignored-now.json").isEmpty)
        // log.level debug is in force.
        #expect(daemon.stderr.contains(" debug podpiped"), "\(daemon.stderr)")

        // A broken configuration is refused and the current one stays.
        try Data("{ not json".utf8).write(to: URL(fileURLWithPath: configPath))
        let mark2 = daemon.notify.messages.count
        daemon.signal(SIGHUP)
        #expect(daemon.notify.waitForLine("READY=1", after: mark2))
        #expect(daemon.stderr.contains("configuration not reloaded"))
        try Data(eventLines(4, seed: 14).utf8).write(to: URL(fileURLWithPath: other + "/still.json"))
        #expect(eventually { box.isRecorded("still.json") })
        #expect(daemon.stop()?.status == 0)
    }

    @Test func aSecondWriterFailsFastWhileTheFirstKeepsGoing() throws {
        let box = try Sandbox()
        // Also: WATCHDOG=1 comes every third of WATCHDOG_USEC when systemd sets it.
        let env = [
            "PODPIPE_WATCH_SETTLE": "0", "PODPIPE_GOLD_REFRESH_INTERVAL": "3600", "WATCHDOG_USEC": "600000",
        ]
        let daemon = try DaemonProcess(box: box, env: env)
        #expect(daemon.waitReady(), "\(daemon.stderr)")

        var started = Date()
        let once = try box.podpiped(["--once"])
        #expect(once.status == 75, "\(once.stderr)")
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(once.stderr.contains("another podpipe writer"))

        started = Date()
        let second = try box.podpiped([])
        #expect(second.status == 75, "\(second.stderr)")
        #expect(Date().timeIntervalSince(started) < 5)

        try box.drop("a.json", eventLines(5, seed: 21))
        #expect(eventually { box.isRecorded("a.json") }, "\(daemon.stderr)")
        #expect(daemon.process.isRunning)
        #expect(eventually(timeout: 10) { daemon.notify.messages.filter { $0 == "WATCHDOG=1" }.count >= 3 })
        #expect(daemon.stop()?.status == 0)
    }

    @Test func theFolderMayVanishAndComeBack() throws {
        let box = try Sandbox()
        let daemon = try DaemonProcess(
            box: box, env: ["PODPIPE_WATCH_SETTLE": "0", "PODPIPE_WATCH_RESCAN_INTERVAL": "1"])
        #expect(daemon.waitReady(), "\(daemon.stderr)")
        try FileManager.default.removeItem(atPath: box.dataLoad)
        #expect(
            eventually(timeout: 10) { daemon.stderr.contains("event=folder_missing") }, "\(daemon.stderr)")
        try FileManager.default.createDirectory(atPath: box.dataLoad, withIntermediateDirectories: true)
        #expect(
            eventually(timeout: 10) { daemon.stderr.contains("the drop folder is back") }, "\(daemon.stderr)")
        try box.drop("back.json", eventLines(3, seed: 41))
        #expect(eventually { box.isRecorded("back.json") }, "\(daemon.stderr)")
        // Watched again (not only polled): the status says inotify.
        #expect(
            eventually(timeout: 15) {
                try box.ctl(["status", "--json"]).stdout.contains("\"watch_mode\" : \"inotify\"")
            })
        #expect(daemon.stop()?.status == 0)
    }

    @Test func statusSaysWhenTheDaemonIsExpectedButGone() throws {
        let box = try Sandbox()
        let daemon = try DaemonProcess(box: box, env: ["PODPIPE_WATCH_SETTLE": "0"])
        #expect(daemon.waitReady(), "\(daemon.stderr)")
        let running = try box.ctl(["status"])
        #expect(running.stdout.contains("daemon    running (pid \(daemon.pid))"), "\(running.stdout)")
        #expect(running.status != 2)
        // Killed without a chance to record its stop: expected but not running → exit 2.
        #expect(daemon.stop(SIGKILL) != nil)
        let gone = try box.ctl(["status", "--json"])
        #expect(gone.status == 2, "\(gone.stdout)")
        #expect(gone.stdout.contains("\"state\" : \"stopped\""))
        #expect(gone.stdout.contains("daemon not running"))
        // A clean restart and stop: not expected any more.
        let again = try DaemonProcess(box: box, env: ["PODPIPE_WATCH_SETTLE": "0"], name: "again")
        #expect(again.waitReady())
        #expect(again.stop()?.status == 0)
        let clean = try box.ctl(["status", "--json"])
        #expect(clean.status != 2, "\(clean.stdout)")
    }
}
