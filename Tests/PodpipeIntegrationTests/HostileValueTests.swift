import Foundation
import GRDB
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// Values that could trap (doc/reliability.md, "Values that could trap"): numbers in files,
// file times and configuration values that overflowed Swift's integer arithmetic and killed
// podpiped / podpipectl (exit 132), and the exit codes of usage and configuration errors.

@Suite("hostile values never trap (through the real binaries)")
struct HostileValueTests {
    static let reference = (
        users: "user_id,signup_date,country\nu1,2024-01-01,DE\nu2,2024-01-01,FR\n",
        episodes: "episode_id,podcast_id,title,release_date,duration_seconds\nep_1,p1,One,2024-01-01,1\n"
    )

    func goldRefreshedAt(_ box: Sandbox) throws -> String? {
        try box.query("SELECT value FROM pipeline_state WHERE key = 'gold.refreshed_at'", as: String.self)
    }

    @Test("two valid-looking completes whose durations sum past 2^63: --once exits 0 and gold refreshes")
    func durationsSummingPastInt64() throws {
        let box = try Sandbox()
        try box.drop("users.csv", Self.reference.users, mtime: 1_700_000_000)
        try box.drop("episodes.csv", Self.reference.episodes, mtime: 1_700_000_001)
        let lines = [
            #"{"event_type":"complete","user_id":"u1","episode_id":"ep_1","timestamp":"2024-03-01T10:00:00","duration":5000000000000000000}"#,
            #"{"event_type":"complete","user_id":"u1","episode_id":"ep_1","timestamp":"2024-03-01T11:00:00","duration":5000000000000000000}"#,
            #"{"event_type":"complete","user_id":"u2","episode_id":"ep_1","timestamp":"2024-03-01T12:00:00","duration":"9223372036854775807"}"#,
            #"{"event_type":"complete","user_id":"u2","episode_id":"ep_1","timestamp":"2024-03-01T13:00:00","duration":2}"#,
        ]
        try box.drop("events.json", lines.joined(separator: "\n") + "\n", mtime: 1_700_000_002)
        let run = try box.podpiped()
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try goldRefreshedAt(box) != nil)
        #expect(
            try box.query(
                "SELECT count(*) FROM bronze_event WHERE error_codes = 'invalid_duration_for_play_complete'")
                == 3)
        let report = try box.ctl(["report", "listen-through", "--format", "csv"])
        #expect(report.status == 0, "\(report.stderr)")
        #expect(csvRows(report.stdout).dropFirst().map { $0[0] } == ["FR"], "\(report.stdout)")
        // A second pass (the daemon's restart) is not stuck either.
        #expect(try box.podpiped().status == 0)
    }

    @Test("an event of year 10000 UTC is timestamp_in_future even with the widest skew; gold stays right")
    func year10000() throws {
        let box = try Sandbox()
        let lines = [
            #"{"event_type":"complete","user_id":"u1","episode_id":"ep_1","timestamp":"9999-12-31T23:59:59-01:00","duration":5}"#,
            #"{"event_type":"complete","user_id":"u1","episode_id":"ep_2","timestamp":"9999-12-31T23:59:59.5-00:01","duration":5}"#,
            #"{"event_type":"complete","user_id":"u1","episode_id":"ep_3","timestamp":"2024-03-01T10:00:00Z","duration":5}"#,
        ]
        try box.drop("events.json", lines.joined(separator: "\n") + "\n", mtime: 1_700_000_000)
        let env = ["PODPIPE_VALIDATION_FUTURE_SKEW": "315576000000"]
        let run = try box.podpiped(env: env)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try goldRefreshedAt(box) != nil)
        #expect(
            try box.query("SELECT count(*) FROM bronze_event WHERE error_codes = 'timestamp_in_future'") == 2)
        #expect(try box.query("SELECT count(*) FROM silver_event") == 1)
        // The next pass refreshes incrementally; no day of gold is past 9999.
        try box.drop("more.json", eventLines(3, seed: 2), mtime: 1_700_000_001)
        #expect(try box.podpiped(env: env).status == 0)
        #expect(try box.query("SELECT count(*) FROM gold_daily_activity WHERE day IS NULL") == 0)
        let top = try box.ctl(
            ["report", "top-episodes", "--as-of", "2024-03-01", "--format", "csv"], env: env)
        #expect(csvRows(top.stdout).dropFirst().map { $0[1] } == ["ep_3"], "\(top.stdout)\(top.stderr)")
    }

    @Test("a file whose mtime lies in year 2300: status, validate and --once do not crash")
    func mtimePast2262() throws {
        let box = try Sandbox()
        #expect(try box.podpiped().status == 0)  // creates the database
        let path = try box.drop("events.json", eventLines(3, seed: 1))
        // 2300-01-01T00:00:00Z: past Int64 nanoseconds (April 2262).
        var times = [
            timespec(tv_sec: 10_413_792_000, tv_nsec: 0), timespec(tv_sec: 10_413_792_000, tv_nsec: 0),
        ]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)

        let status = try box.ctl(["status"])
        #expect(status.status == 0, "\(status.stdout)\(status.stderr)")
        #expect(status.stdout.contains("waiting"), "\(status.stdout)")
        let validate = try box.ctl(["validate", path])
        #expect(validate.status == 0, "\(validate.stdout)\(validate.stderr)")
        let run = try box.podpiped()
        #expect(run.status == 0, "\(run.stderr)")
        #expect(box.isRecorded("events.json"))
        #expect(try box.ctl(["files"]).status == 0)
        #expect(try box.podpiped().status == 0)  // known: not loaded again
        #expect(try box.query("SELECT count(*) FROM ingest_file") == 1)
    }

    @Test(
        "bad configuration numbers exit 78 naming the key, the source and the range",
        arguments: [
            ("PODPIPE_GOLD_REFRESH_INTERVAL", "inf"), ("PODPIPE_GOLD_REFRESH_INTERVAL", "1e300"),
            ("PODPIPE_VALIDATION_FUTURE_SKEW", "1e20"), ("PODPIPE_INGEST_MAX_LINE_BYTES", "1e20"),
            ("PODPIPE_WATCH_SETTLE", "nan"), ("PODPIPE_INGEST_RETRY_BACKOFF", "-1"),
            ("PODPIPE_INGEST_GROUP_SECONDS", "-0.5"), ("PODPIPE_INGEST_GROUP_SECONDS", "1e9"),
            ("PODPIPE_LOG_TARGET", "nonsense"),
        ])
    func badEnvironment(name: String, value: String) throws {
        let box = try Sandbox()
        let run = try box.podpiped(env: [name: value])
        #expect(run.status == 78, "\(run.stderr)")
        #expect(run.stderr.contains(name) && run.stderr.contains("'\(value)'"), "\(run.stderr)")
        #expect(run.stderr.contains("expected"), "\(run.stderr)")
        let ctl = try box.ctl(["status"], env: [name: value])
        #expect(ctl.status == 78, "\(ctl.stderr)")
    }

    @Test("the file gets the same rules: out of range, wrong type, 1e300 exit 78; unknown keys warn")
    func badFile() throws {
        let box = try Sandbox()
        let config = box.root.appendingPathComponent("podpipe.json").path
        for body in [
            #"{"gold": {"refresh_interval": -5}}"#, #"{"gold": {"refresh_interval": 1e300}}"#,
            #"{"validation": {"future_skew": 1e20}}"#, #"{"watch": {"settle": "soon"}}"#,
            #"{"watch": {"settle": true}}"#, #"{"ingest": {"max_line_bytes": 12.5}}"#,
        ] {
            try Data(body.utf8).write(to: URL(fileURLWithPath: config))
            let run = try box.podpiped(["--config", config, "--once"])
            #expect(run.status == 78, "\(body): \(run.stderr)")
            #expect(run.stderr.contains("configuration file \(config)"), "\(run.stderr)")
        }
        try Data(#"{"watch": {"setle": 1}, "gold": {"refresh_intervall": 5}}"#.utf8)
            .write(to: URL(fileURLWithPath: config))
        let run = try box.podpiped(["--config", config, "--once", "--log-target", "stderr"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(
            run.stderr.contains("unknown key watch.setle is ignored; did you mean watch.settle?"),
            "\(run.stderr)")
        #expect(run.stderr.contains("did you mean gold.refresh_interval?"), "\(run.stderr)")
    }

    @Test("usage errors exit 64: --log-target nonsense, bad generate values")
    func usageErrors() throws {
        let box = try Sandbox()
        #expect(try box.podpiped(["--once", "--log-target", "nonsense"]).status == 64)
        let out = box.root.appendingPathComponent("generated").path
        for args in [
            ["--events", "0"], ["--dirty-rate", "7"], ["--start-day", "tomorrow"], ["--files", "0"],
        ] {
            let run = try Binaries.run("podpipectl", ["generate", "--out", out] + args)
            #expect(run.status == 64, "\(args): \(run.stderr)")
            #expect(run.stderr.contains(args[0]), "\(run.stderr)")
        }
    }

    @Test("a SIGHUP reload with a bad value keeps the daemon and its configuration running, and says why")
    func reloadWithBadValue() throws {
        let box = try Sandbox()
        let config = box.root.appendingPathComponent("podpipe.json").path
        func write(_ refresh: String) throws {
            let json = """
                {"data_load": "\(box.dataLoad)", "database": "\(box.database)",
                 "watch": {"settle": 0}, "gold": {"refresh_interval": \(refresh)}}
                """
            try Data(json.utf8).write(to: URL(fileURLWithPath: config))
        }
        try write("3600")
        let daemon = try DaemonProcess(box: box, arguments: ["--config", config])
        #expect(daemon.waitReady(), "\(daemon.stderr)")
        for bad in ["1e300", "-1", "\"inf\""] {
            try write(bad)
            let mark = daemon.notify.messages.count
            daemon.signal(SIGHUP)
            #expect(daemon.notify.waitForLine("READY=1", after: mark), "\(daemon.stderr)")
            #expect(daemon.process.isRunning, "\(bad): \(daemon.stderr)")
        }
        #expect(daemon.stderr.contains("configuration not reloaded"), "\(daemon.stderr)")
        #expect(daemon.stderr.contains("gold.refresh_interval"), "\(daemon.stderr)")
        try box.drop("after.json", eventLines(4, seed: 3))
        #expect(eventually { box.isRecorded("after.json") }, "\(daemon.stderr)")
        #expect(daemon.stop()?.status == 0)
    }
}
