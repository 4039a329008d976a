import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The daemon's native journal records, read back from a standalone systemd-journald.
///
/// `sd_journal_sendv` always writes to `/run/systemd/journal/socket`, so the test gives
/// journald and podpiped a private mount namespace (`unshare --mount`) with a tmpfs over
/// `/run` (and over `/var/log/journal` when it exists): the host's /run and journal are
/// never touched. podpiped runs with stderr on a journal stream (`systemd-cat`) and
/// `JOURNAL_STREAM` naming it, as systemd would: `log.target` `auto` must pick native
/// records. Needs root (mounts) and /lib/systemd/systemd-journald; skipped otherwise.
@Suite("daemon: journal records")
struct DaemonJournalTests {
    static let journald = "/lib/systemd/systemd-journald"

    static var skipReason: String? {
        if getuid() != 0 { return "not root: cannot mount a private /run for a standalone journald" }
        for tool in [journald, "/usr/bin/unshare", "/usr/bin/journalctl", "/usr/bin/systemd-cat"]
        where !FileManager.default.isExecutableFile(atPath: tool) {
            return "\(tool) not found"
        }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        probe.arguments = [
            "--mount", "--propagation", "private", "/bin/sh", "-c", "mount -t tmpfs tmpfs /mnt",
        ]
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return "unshare cannot run" }
        probe.waitUntilExit()
        if probe.terminationStatus != 0 { return "no mount namespaces here (unshare --mount failed)" }
        return nil
    }

    @Test func recordsCarryStructuredFieldsAndMessageIDs() throws {
        if let reason = Self.skipReason {
            print("skipping the journal test: \(reason)")
            return
        }
        let box = try Sandbox()
        try box.drop("good.json", eventLines(12, seed: 31))
        try box.drop("empty.json", "")
        let out = box.root.appendingPathComponent("journal.json").path
        let pidFile = box.root.appendingPathComponent("podpiped.pid").path
        let ready = box.root.appendingPathComponent("journald.ready").path
        let podpiped = Binaries.directory.appendingPathComponent("podpiped").path
        let script = """
            set -eu
            mount -t tmpfs tmpfs /run
            if [ -d /var/log/journal ]; then mount -t tmpfs tmpfs /var/log/journal; fi
            mkdir -p /run/systemd/journal /run/log/journal
            \(Self.journald) &
            jpid=$!
            i=0; while [ ! -S /run/systemd/journal/socket ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
            [ -S /run/systemd/journal/socket ]
            touch '\(ready)'
            # stderr on a journal stream, JOURNAL_STREAM naming it (as systemd sets it).
            systemd-cat -t podpiped-stream /bin/sh -c 'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$0" "$@"' \\
              '\(podpiped)' --data-load '\(box.dataLoad)' --database '\(box.database)' &
            echo $! > '\(pidFile)'
            wait $! || echo "podpiped exit $?" >&2
            journalctl --sync 2>/dev/null || sleep 0.5
            journalctl -o json --no-pager SYSLOG_IDENTIFIER=podpiped > '\(out)'
            kill $jpid; wait $jpid 2>/dev/null || true
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        process.arguments = ["--mount", "--propagation", "private", "/bin/sh", "-c", script]
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("PODPIPE_") || key == "NOTIFY_SOCKET" {
            environment.removeValue(forKey: key)
        }
        environment["PODPIPE_WATCH_SETTLE"] = "0"
        environment["PODPIPE_GOLD_REFRESH_INTERVAL"] = "1"
        environment["PODPIPE_LOG_TARGET"] = "auto"
        process.environment = environment
        let errPath = box.root.appendingPathComponent("script.stderr").path
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        let scriptErr = { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }
        #expect(eventually(timeout: 20) { FileManager.default.fileExists(atPath: ready) }, "\(scriptErr())")
        #expect(
            eventually(timeout: 30) {
                box.isRecorded("good.json") && box.isRecorded("empty.json", as: "rejected")
            })
        #expect(
            eventually(timeout: 20) {
                try box.query(
                    "SELECT value FROM pipeline_state WHERE key = 'gold.refreshed_at'", as: String.self)
                    != nil
            })
        let pidText = try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines)
        guard let pid = Int32(pidText) else {
            Issue.record("no pid: \(pidText)")
            return
        }
        kill(pid, SIGTERM)
        #expect(eventually(timeout: 30) { !process.isRunning }, "\(scriptErr())")
        process.waitUntilExit()

        let text = try String(contentsOfFile: out, encoding: .utf8)
        let records = text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
        #expect(!records.isEmpty, "no records; script stderr: \(scriptErr())")
        func record(_ event: String) -> [String: Any]? {
            records.first { $0["PODPIPE_EVENT"] as? String == event }
        }
        let ids = [
            "daemon_started": "d4698c1b35854f0d83eb2fc333dbd54d",
            "daemon_stopping": "97281d473c0740209c5fce1dba921f1c",
            "daemon_stopped": "87d9e10311c942eaad3e048d6bb5ec56",
            "file_loaded": "390321c69b4e4939844bad30e75562d3",
            "file_rejected": "b67f41d1925844e9910eaab8cf125958",
            "gold_refreshed": "d5dfbd7c07b3490aa56afad39a674813",
        ]
        for (event, id) in ids {
            let found = record(event)
            #expect(found != nil, "no \(event) record among \(records.compactMap { $0["PODPIPE_EVENT"] })")
            #expect(found?["MESSAGE_ID"] as? String == id, "\(event)")
            #expect(found?["SYSLOG_IDENTIFIER"] as? String == "podpiped")
            #expect((found?["CODE_FILE"] as? String)?.hasSuffix(".swift") == true, "\(event)")
            #expect(Int(found?["CODE_LINE"] as? String ?? "") != nil, "\(event)")
            #expect(found?["CODE_FUNC"] as? String != nil, "\(event)")
            #expect(found?["_TRANSPORT"] as? String == "journal", "\(event): not a native record")
        }
        let loaded = record("file_loaded")
        #expect(loaded?["PRIORITY"] as? String == "6")
        #expect(loaded?["MESSAGE"] as? String == "file loaded")
        #expect(loaded?["PODPIPE_FILE"] as? String == "good.json")
        #expect(loaded?["PODPIPE_ROWS"] as? String == "12")
        #expect(loaded?["PODPIPE_LOADED"] as? String == "12")
        #expect(loaded?["PODPIPE_KIND"] as? String == "events")
        #expect(Int(loaded?["PODPIPE_DURATION_MS"] as? String ?? "") != nil)
        let rejected = record("file_rejected")
        #expect(rejected?["PRIORITY"] as? String == "3")
        #expect(rejected?["PODPIPE_FILE"] as? String == "empty.json")
        let started = record("daemon_started")
        #expect(started?["PODPIPE_FOLDER"] as? String == box.dataLoad)
        #expect(started?["PODPIPE_WATCH_MODE"] as? String == "inotify")
        #expect(record("daemon_stopping")?["PODPIPE_SIGNAL"] as? String == "SIGTERM")
        #expect(Int(record("gold_refreshed")?["PODPIPE_NEW_EVENTS"] as? String ?? "") == 12)
    }
}
