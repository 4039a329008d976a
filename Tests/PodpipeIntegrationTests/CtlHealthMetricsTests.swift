import Foundation
import GRDB
import Testing

@testable import PodpipeCore

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 16: `podpipectl metrics`, the metrics textfile of `podpiped`, the health rules of
/// `status` that see a backlog, and `podpipectl ack`, through the real binaries.
@Suite("metrics, backlog health and ack")
struct CtlHealthMetricsTests {
    static let valid =
        #"{"event_type": "play", "user_id": "u1", "episode_id": "e1", "timestamp": "2024-01-02T10:00:00", "duration": 5}"#
    static let invalid =
        #"{"event_type": "jump", "user_id": "u1", "episode_id": "e1", "timestamp": "2024-01-02T10:00:01"}"#

    /// promtool from Debian's `prometheus` package, when installed.
    static let promtool: String? = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// A folder with a loaded file (one valid row, one rejected row), a renamed copy of it
    /// (duplicate), an empty file (rejected) and a users export; loaded by `podpiped
    /// --once` writing the metrics textfile. Returns the textfile's path.
    func loadMixedFolder(_ box: Sandbox) throws -> String {
        let content = Self.valid + "\n" + Self.invalid + "\n"
        try box.drop("events-a.ndjson", content, mtime: 1_700_000_000)
        try box.drop("events-copy.ndjson", content, mtime: 1_700_000_100)
        try box.drop("events-empty.ndjson", "", mtime: 1_700_000_200)
        try box.drop("users.csv", "user_id,signup_date,country\nu1,2024-01-01,DE\n", mtime: 1_700_000_300)
        let folder = box.root.appendingPathComponent("textfile").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let textfile = folder + "/podpipe.prom"
        let run = try box.podpiped(["--once"], env: ["PODPIPE_METRICS_TEXTFILE": textfile])
        #expect(run.status == 0, "\(run.stderr)")
        return textfile
    }

    /// The sample lines of a metrics text, without the ages (they move between two reads).
    func samples(_ text: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter {
            !$0.hasPrefix("#") && !$0.contains("_age_seconds")
        }
    }

    @Test func metricsAfterAOncePassCountFilesRowsCodesAndDuplicates() throws {
        let box = try Sandbox()
        let textfile = try loadMixedFolder(box)
        let run = try box.ctl(["metrics"])
        #expect(run.status == 0, "\(run.stderr)")
        let text = run.stdout
        for line in [
            #"podpipe_files{kind="events",state="loaded"} 1"#,
            #"podpipe_files{kind="events",state="duplicate"} 1"#,
            #"podpipe_files{kind="events",state="rejected"} 1"#,
            #"podpipe_files{kind="users",state="loaded"} 1"#,
            #"podpipe_files_unacknowledged{state="rejected"} 1"#,
            #"podpipe_files_waiting 0"#,
            #"podpipe_rows_total{layer="bronze",kind="events"} 2"#,
            #"podpipe_rows_total{layer="silver",kind="events"} 1"#,
            #"podpipe_rows_total{layer="silver",kind="users"} 1"#,
            #"podpipe_rows_rejected_total{kind="events"} 1"#,
            #"podpipe_rejected_row_codes_total{kind="events",code="invalid_event_type"} 1"#,
            #"podpipe_rows_duplicate_total{kind="events"} 0"#,
            #"podpipe_table_rows{layer="silver",table="silver_user"} 1"#,
            #"podpipe_file_load_seconds_count{kind="events"} 3"#,
            #"podpipe_file_load_seconds_bucket{kind="events",le="+Inf"} 3"#,
            #"podpipe_daemon_up 0"#,
            #"podpipe_healthy 0"#,
            #"podpipe_gold_stale 0"#,
        ] {
            #expect(text.contains(line + "\n"), "missing: \(line)\n\(text)")
        }
        // Both files were read to the end: the copy's bytes count as read.
        let size = Int64((Self.valid + "\n" + Self.invalid + "\n").utf8.count)
        #expect(text.contains(#"podpipe_read_bytes_total{kind="events"} \#(2 * size)"# + "\n"))
        #expect(text.contains("podpipe_last_pass_timestamp_seconds "))
        #expect(text.contains("podpipe_gold_refreshed_timestamp_seconds "))

        // The textfile written by --once says the same (but the ages), mode 0644, and the
        // temporary file is gone.
        let written = try String(contentsOfFile: textfile, encoding: .utf8)
        #expect(samples(written) == samples(text))
        var st = stat()
        #expect(stat(textfile, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o644)
        let folder = (textfile as NSString).deletingLastPathComponent
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["podpipe.prom"])
    }

    @Test(.enabled(if: promtool != nil, "promtool not installed (Debian package prometheus)"))
    func promtoolAcceptsTheMetricsAndTheirNames() throws {
        let box = try Sandbox()
        let textfile = try loadMixedFolder(box)
        let promtool = try #require(Self.promtool)
        for text in [try box.ctl(["metrics"]).stdout, try String(contentsOfFile: textfile, encoding: .utf8)] {
            // `check metrics` parses the text and lints the names (units, _total, help).
            let check = try Binaries.runProgram(promtool, ["check", "metrics"], stdin: Data(text.utf8))
            #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
            #expect(check.stdout.isEmpty && check.stderr.isEmpty, "\(check.stdout)\(check.stderr)")
        }
    }

    @Test func aMetricsTextfileThatCannotBeWrittenNeverFailsThePass() throws {
        let box = try Sandbox()
        try box.drop("events-a.ndjson", Self.valid + "\n")
        let missing = box.root.appendingPathComponent("no-such-folder/podpipe.prom").path
        let run = try box.podpiped(["--once"], env: ["PODPIPE_METRICS_TEXTFILE": missing])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("metrics textfile not written"), "\(run.stderr)")
        #expect(box.isRecorded("events-a.ndjson"))
    }

    func status(_ box: Sandbox, env: [String: String] = [:]) throws -> (code: Int32, json: [String: Any]) {
        let run = try box.ctl(["status", "--json"], env: env)
        let json = try #require(try jsonValue(run.stdout) as? [String: Any], "\(run.stdout)\(run.stderr)")
        return (run.status, json)
    }

    @Test func aFileWaitingLongerThanTheBacklogLimitMakesStatusUnhealthy() throws {
        let box = try Sandbox()
        try box.drop("events-a.ndjson", Self.valid + "\n")
        #expect(try box.podpiped().status == 0)
        #expect(try status(box).code == 0)
        // Waiting, with an mtime of 2023 kept (as cp -p does): it waits from its arrival.
        try box.drop("events-late.ndjson", Self.valid + "\n", mtime: 1_700_000_000)
        let waiting = try status(box)
        #expect(waiting.code == 0, "\(waiting.json)")
        #expect((waiting.json["files"] as? [String: Any])?["pending"] as? Int == 1)
        let health = try #require(waiting.json["health"] as? [String: Any])
        #expect(health["oldest_waiting_file"] as? String == "events-late.ndjson")
        #expect((health["oldest_waiting_age_seconds"] as? Int ?? -1) < 900)
        #expect(health["max_backlog_age_seconds"] as? Int == 900)

        // With a limit of one second, it is a backlog once it has waited longer.
        let strict = ["PODPIPE_HEALTH_MAX_BACKLOG_AGE": "1"]
        usleep(1_100_000)
        let late = try status(box, env: strict)
        #expect(late.code == 1)
        let problems = late.json["problems"] as? [String] ?? []
        #expect(
            problems.contains { $0.hasPrefix("oldest waiting file events-late.ndjson has waited") },
            "\(problems)")
        #expect(late.json["healthy"] as? Bool == false)
        let text = try box.ctl(["status"], env: strict)
        #expect(
            text.stdout.hasPrefix("podpipe  degraded: oldest waiting file events-late.ndjson"),
            "\(text.stdout)")

        // Loaded: no backlog.
        #expect(try box.podpiped().status == 0)
        #expect(try status(box, env: strict).code == 0)
    }

    @Test func aRunningDaemonWhoseLastPassIsOverdueMakesStatusUnhealthy() throws {
        let box = try Sandbox()
        try box.drop("events-a.ndjson", Self.valid + "\n")
        #expect(try box.podpiped().status == 0)
        #expect(try box.pipelineState("ingest.last_pass_at") != nil)  // recorded by --once
        // A daemon recorded running for three hours (this test process stands in for it: a
        // live pid on this host and a fresh heartbeat), whose last pass was two hours ago.
        let now = Date()
        func iso(_ secondsAgo: Double) -> String { ISOTime.format(now.addingTimeInterval(-secondsAgo)) }
        let writer = try GRDBWriter(box.database)
        try writer.queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO daemon_state (id, state, pid, host, started_at, heartbeat_at,
                      heartbeat_interval_s, stale_after_s, watch_mode, data_load)
                    VALUES (1, 'running', ?, ?, ?, ?, 10, 180, 'poll', ?)
                    """, arguments: [getpid(), DaemonLiveness.hostName(), iso(10800), iso(0), box.dataLoad])
            try db.execute(
                sql: "UPDATE pipeline_state SET value = ? WHERE key = 'ingest.last_pass_at'",
                arguments: [iso(7200)])
        }
        let overdue = try status(box)
        #expect(overdue.code == 1)
        #expect((overdue.json["daemon"] as? [String: Any])?["state"] as? String == "running")
        #expect(overdue.json["problems"] as? [String] == ["last completed pass was 2 h ago (limit 60 min)"])
        #expect((overdue.json["health"] as? [String: Any])?["last_pass_age_seconds"] as? Int ?? 0 >= 7200)
        // Within the limit: healthy.
        #expect(try status(box, env: ["PODPIPE_HEALTH_MAX_PASS_AGE": "10800"]).code == 0)
        // No daemon running (cron or timer users of --once): the pass age is not judged.
        try writer.execute(
            "UPDATE daemon_state SET state = 'stopped', clean_stop = 1, stopped_at = heartbeat_at")
        #expect(try status(box).code == 0)
    }

    @Test func ackMakesStatusHealthyUntilANewVersionIsRejectedAgain() throws {
        let box = try Sandbox()
        try box.drop("events-a.ndjson", Self.valid + "\n")
        try box.drop("events-empty.ndjson", "")
        #expect(try box.podpiped().status == 0)
        let rejected = try status(box)
        #expect(rejected.code == 1)
        #expect(rejected.json["problems"] as? [String] == ["1 file(s) rejected, not acknowledged"])

        // Unknown names are refused, nothing written.
        let unknown = try box.ctl(["ack", "events-emtpy.ndjson"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("not in the ledger: events-emtpy.ndjson"), "\(unknown.stderr)")
        #expect(try status(box).code == 1)
        // A name with nothing to acknowledge is said so.
        let nothing = try box.ctl(["ack", "events-a.ndjson"])
        #expect(nothing.status == 0)
        #expect(nothing.stdout.contains("nothing to acknowledge for events-a.ndjson"))

        let ack = try box.ctl(["ack", "events-empty.ndjson"])
        #expect(ack.status == 0, "\(ack.stderr)")
        #expect(ack.stdout.hasPrefix("acknowledged events-empty.ndjson (rejected, file "), "\(ack.stdout)")
        let healthy = try status(box)
        #expect(healthy.code == 0, "\(healthy.json)")
        // The ledger is unchanged.
        #expect((healthy.json["files"] as? [String: Any])?["rejected"] as? Int == 1)
        #expect((healthy.json["health"] as? [String: Any])?["acknowledged"] as? Int == 1)
        let errors = healthy.json["last_errors"] as? [[String: Any]] ?? []
        #expect(
            errors.first { $0["file"] as? String == "events-empty.ndjson" }?["acknowledged"] as? Bool == true)
        #expect(try box.ctl(["status"]).stdout.contains("[rejected, acknowledged]"))
        let again = try box.ctl(["ack", "events-empty.ndjson"])
        #expect(again.stdout.hasPrefix("already acknowledged events-empty.ndjson"), "\(again.stdout)")

        // A new version of the name, rejected again: a new problem.
        try box.drop("events-empty.ndjson", "\n\n")
        #expect(try box.podpiped().status == 0)
        let newVersion = try status(box)
        #expect(newVersion.code == 1)
        #expect(newVersion.json["problems"] as? [String] == ["1 file(s) rejected, not acknowledged"])
        let all = try box.ctl(["ack", "--all", "--json"])
        #expect(all.status == 0, "\(all.stderr)")
        let summary = try #require(try jsonValue(all.stdout) as? [String: Any])
        #expect((summary["acknowledged"] as? [Any])?.count == 1)
        #expect(summary["via"] as? String == "writer_lock")
        #expect(try status(box).code == 0)
        #expect(try box.ctl(["ack"]).status == 64)  // neither names nor --all
    }

    @Test func ackWritesBesideARunningDaemonAndTheDaemonWritesTheTextfile() throws {
        let box = try Sandbox()
        let textfile = box.root.appendingPathComponent("podpipe.prom").path
        let daemon = try DaemonProcess(
            box: box,
            env: [
                "PODPIPE_WATCH_MODE": "poll", "PODPIPE_WATCH_RESCAN_INTERVAL": "1",
                "PODPIPE_WATCH_SETTLE": "0",
                "PODPIPE_GOLD_REFRESH_INTERVAL": "1", "PODPIPE_METRICS_TEXTFILE": textfile,
            ])
        #expect(daemon.waitReady())
        try box.drop("events-empty.ndjson", "")
        try box.drop("events-a.ndjson", Self.valid + "\n")
        #expect(
            eventually {
                box.isRecorded("events-empty.ndjson", as: "rejected") && box.isRecorded("events-a.ndjson")
            })
        // The daemon writes the textfile after its passes (at most every 15 s): it shows the
        // files and itself up.
        #expect(
            eventually(timeout: 60) {
                let text = try String(contentsOfFile: textfile, encoding: .utf8)
                return text.contains(#"podpipe_files{kind="events",state="rejected"} 1"#)
                    && text.contains(#"podpipe_files{kind="events",state="loaded"} 1"#)
                    && text.contains("podpipe_daemon_up 1\n")
            },
            "\((try? String(contentsOfFile: textfile, encoding: .utf8)) ?? "no textfile")\n\(daemon.stderr)")

        let ack = try box.ctl(["ack", "events-empty.ndjson", "--json"])
        #expect(ack.status == 0, "\(ack.stderr)")
        let summary = try #require(try jsonValue(ack.stdout) as? [String: Any])
        #expect(summary["via"] as? String == "beside_writer")
        let after = try status(box)
        let problems = after.json["problems"] as? [String] ?? []
        #expect(!problems.contains { $0.contains("rejected") }, "\(problems)")
        #expect((after.json["daemon"] as? [String: Any])?["state"] as? String == "running")
        #expect(
            try box.ctl(["metrics"]).stdout.contains(#"podpipe_files_unacknowledged{state="rejected"} 0"#))
        // The daemon goes on: a new file still loads, and it records its passes.
        try box.drop("events-b.ndjson", eventLines(3, seed: 9))
        #expect(eventually { box.isRecorded("events-b.ndjson") })
        #expect(eventually { try box.pipelineState("ingest.last_pass_at") != nil })
        #expect(daemon.stop()?.status == 0)
        // Its last textfile, at stop, says it is down and sees the acknowledgement.
        let final = try String(contentsOfFile: textfile, encoding: .utf8)
        #expect(final.contains("podpipe_daemon_up 0\n"), "\(final)")
        #expect(final.contains(#"podpipe_files_unacknowledged{state="rejected"} 0"#))
    }
}
