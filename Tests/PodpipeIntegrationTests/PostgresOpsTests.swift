import Foundation
import GRDB
import Testing

@testable import PodpipeCore

#if canImport(Glibc)
    import Glibc
#endif

/// The operator settings on PostgreSQL (issue 18), with the real binaries against a real
/// server, each compared with what SQLite does with the same files: `ingest.after = move |
/// delete` (and a kill between the COMMIT and the move), the metrics textfile and
/// `podpipectl metrics`, `podpipectl ack`, and `daemon_state` per (host, drop folder).
@Suite("PostgreSQL operations: after commit, metrics, ack, daemons per folder", .serialized)
struct PostgresOpsTests {
    static let move = ["PODPIPE_INGEST_AFTER": "move"]

    /// `podpiped --once` on a folder into `uri`.
    static func once(_ folder: String, _ uri: String, env: [String: String] = [:]) throws -> ProcessResult {
        try Binaries.run(
            "podpiped", ["--once", "--data-load", folder, "--database", uri], env: env, timeout: 300)
    }

    /// `podpipectl SUBCOMMAND --database uri --data-load folder ARGS`.
    static func ctl(_ args: [String], _ uri: String, folder: String, env: [String: String] = [:]) throws
        -> ProcessResult
    {
        try Binaries.run(
            "podpipectl", [args[0], "--database", uri, "--data-load", folder] + args.dropFirst(), env: env,
            timeout: 120)
    }

    /// A fresh database `name` on `server` (each comparison starts from an empty warehouse).
    static func database(_ name: String, on server: PostgresServer) throws -> String {
        try PostgresConnection(uri: server.uri).execute("CREATE DATABASE \(name)")
        return "postgresql:///\(name)?host=\(server.directory)&port=\(server.port)&user=postgres"
    }

    static func names(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }

    /// The same files, with the same modification times, in a folder.
    static func dropMixed(_ box: Sandbox) throws {
        try box.drop("a.json", eventLines(5, seed: 1), mtime: 1_700_000_000)
        try box.drop("b-copy.json", eventLines(5, seed: 1), mtime: 1_700_000_001)
        try box.drop("garbage.ndjson", "hello\nworld\n", mtime: 1_700_000_002)
        try box.drop("users.csv", "user_id,signup_date,country\nu1,2024-01-02,DE\n", mtime: 1_700_000_003)
        try box.drop("notes.txt", "not ours", mtime: 1_700_000_004)
    }

    /// The ledger's disposals, paths relative to the sandbox: the same text from both engines.
    static let disposalSQL = """
        SELECT name, state, coalesce(disposal, '-'), coalesce(disposed_to, '-'), rows_loaded
        FROM ingest_file ORDER BY name
        """

    static func disposals(sqlite box: Sandbox) throws -> [String] {
        try box.rows(disposalSQL).map { row in
            (0..<5).map { "\(row[$0] as DatabaseValue)".replacingOccurrences(of: "\"", with: "") }
                .joined(separator: "|").replacingOccurrences(of: box.root.path, with: "ROOT")
        }
    }

    static func disposals(postgres uri: String, _ box: Sandbox) throws -> [String] {
        try PostgresConnection(uri: uri).query(disposalSQL).rows.map { row in
            row.map { $0 ?? "∅" }.joined(separator: "|").replacingOccurrences(of: box.root.path, with: "ROOT")
        }
    }

    @Test func moveAndDeleteOnPostgresDoWhatTheyDoOnSQLite() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        for mode in ["move", "delete"] {
            let env = ["PODPIPE_INGEST_AFTER": mode]
            let sqlite = try Sandbox()
            let postgres = try Sandbox()
            try Self.dropMixed(sqlite)
            try Self.dropMixed(postgres)
            let uri = try Self.database("after_\(mode)", on: server)
            let expected = try sqlite.podpiped(env: env)
            #expect(expected.status == 0, "\(expected.stderr)")
            let run = try Self.once(postgres.dataLoad, uri, env: env)
            #expect(run.status == 0, "\(run.stderr)")
            // Every settled file left the folder; the ignored name stayed.
            #expect(Self.names(postgres.dataLoad) == ["notes.txt"])
            for folder in ["data_load", "processed", "rejected"] {
                #expect(
                    Self.names(postgres.root.appendingPathComponent(folder).path)
                        == Self.names(sqlite.root.appendingPathComponent(folder).path), "\(mode): \(folder)")
            }
            if mode == "move" {
                #expect(
                    Self.names(postgres.root.appendingPathComponent("processed").path) == [
                        "a.json", "b-copy.json", "users.csv",
                    ])
                #expect(
                    Self.names(postgres.root.appendingPathComponent("rejected").path) == ["garbage.ndjson"])
            }
            let ledger = try Self.disposals(sqlite: sqlite)
            #expect(ledger.count == 4)
            #expect(try Self.disposals(postgres: uri, postgres) == ledger, "\(mode)")
            // status: the same after_commit counts.
            let status = try Self.ctl(["status", "--json"], uri, folder: postgres.dataLoad, env: env)
            let sqliteStatus = try sqlite.ctl(["status", "--json"], env: env)
            func afterCommit(_ text: String) throws -> [String: Int] {
                let json = try jsonValue(text) as? [String: Any]
                return ((json?["after_commit"] as? [String: Any]) ?? [:]).compactMapValues { $0 as? Int }
            }
            #expect(try afterCommit(status.stdout) == afterCommit(sqliteStatus.stdout))
            #expect(try afterCommit(status.stdout)["waiting"] == 0)
            // A second pass loads and moves nothing.
            let again = try Self.once(postgres.dataLoad, uri, env: env)
            #expect(again.status == 0, "\(again.stderr)")
            #expect(try Self.disposals(postgres: uri, postgres) == ledger)
        }
    }

    @Test func aKillBetweenCommitAndMoveIsFinishedByTheNextPassWithoutLoadingAgain() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let box = try Sandbox()
        try box.drop("1-first.json", eventLines(10, seed: 5), mtime: 1_700_000_000)
        try box.drop("2-second.json", eventLines(20, seed: 6), mtime: 1_700_000_001)
        try box.drop("3-third.json", eventLines(30, seed: 7), mtime: 1_700_000_002)
        // The second file's move is the kill: the first is moved, the second committed and
        // in place, the third not read.
        let killed = try Self.once(
            box.dataLoad, server.uri, env: Self.move.merging(["PODPIPE_CRASH_AT": "before-move:2"]) { $1 })
        #expect(killed.status == SIGKILL, "status \(killed.status): \(killed.stderr.suffix(2000))")
        let processed = box.root.appendingPathComponent("processed").path
        #expect(Self.names(processed) == ["1-first.json"])
        #expect(Self.names(box.dataLoad) == ["2-second.json", "3-third.json"])
        let connection = try PostgresConnection(uri: server.uri)
        func scalar(_ sql: String) throws -> String? { try connection.query(sql).scalar }
        #expect(
            try scalar(
                "SELECT string_agg(name || ':' || state || ':' || coalesce(disposal, '-'), ',' ORDER BY name) FROM ingest_file"
            )
                == "1-first.json:loaded:processed,2-second.json:loaded:-")
        #expect(try scalar("SELECT count(*) FROM silver_event") == "30")
        let committedId = try scalar("SELECT file_id FROM ingest_file WHERE name = '2-second.json'")
        let status = try Self.ctl(["status", "--json"], server.uri, folder: box.dataLoad, env: Self.move)
        let after = (try jsonValue(status.stdout) as? [String: Any])?["after_commit"] as? [String: Any]
        #expect(after?["waiting"] as? Int == 1, "committed, not yet moved: \(status.stdout)")

        let restart = try Self.once(box.dataLoad, server.uri, env: Self.move)
        #expect(restart.status == 0, "\(restart.stderr.suffix(2000))")
        #expect(Self.names(box.dataLoad) == [])
        #expect(Self.names(processed) == ["1-first.json", "2-second.json", "3-third.json"])
        // Loaded exactly once: one ledger row each, the same row for the second file, and
        // only the third file loaded by the restart.
        #expect(
            try scalar(
                "SELECT string_agg(name || ':' || state || ':' || rows_loaded || ':' || disposal, ',' ORDER BY name) FROM ingest_file"
            )
                == "1-first.json:loaded:10:processed,2-second.json:loaded:20:processed,3-third.json:loaded:30:processed"
        )
        #expect(try scalar("SELECT file_id FROM ingest_file WHERE name = '2-second.json'") == committedId)
        let loadedLines = restart.stderr.split(separator: "\n").filter { $0.contains("file loaded") }
        #expect(
            loadedLines.count == 1 && loadedLines.first?.contains("file=3-third.json") == true,
            "\(loadedLines)")
        #expect(restart.stderr.contains("file moved to \(processed)/2-second.json"), "\(restart.stderr)")
        #expect(try scalar("SELECT count(*) FROM silver_event") == "60")
        #expect(try scalar("SELECT count(*) FROM bronze_event") == "60")
    }

    static let valid =
        #"{"event_type": "play", "user_id": "u1", "episode_id": "e1", "timestamp": "2024-01-02T10:00:00", "duration": 5}"#
    static let invalid =
        #"{"event_type": "jump", "user_id": "u1", "episode_id": "e1", "timestamp": "2024-01-02T10:00:01"}"#

    /// A loaded file with a rejected row, its renamed copy, an empty (rejected) file, a
    /// users export and an episodes export with a rejected row.
    static func dropForMetrics(_ box: Sandbox) throws {
        let content = valid + "\n" + invalid + "\n"
        try box.drop("events-a.ndjson", content, mtime: 1_700_000_000)
        try box.drop("events-copy.ndjson", content, mtime: 1_700_000_100)
        try box.drop("events-empty.ndjson", "", mtime: 1_700_000_200)
        try box.drop("users.csv", "user_id,signup_date,country\nu1,2024-01-01,DE\n", mtime: 1_700_000_300)
        try box.drop(
            "episodes.csv",
            "episode_id,podcast_id,title,release_date,duration_seconds\ne1,p1,One,2024-01-01,600\ne2,p1,Two,2024-01-01,-5\n",
            mtime: 1_700_000_400)
    }

    /// The sample lines of a metrics text whose values do not depend on time (ages,
    /// timestamps, load and refresh durations) nor on the engine's multi-host additions.
    static func timeless(_ text: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { line in
            !line.hasPrefix("#") && !line.contains("_age_seconds") && !line.contains("_timestamp_seconds")
                && !line.hasPrefix("podpipe_file_load_seconds_bucket")
                && !line.hasPrefix("podpipe_file_load_seconds_sum")
                && !line.hasPrefix("podpipe_gold_refresh_duration_seconds")
                && !line.hasPrefix("podpipe_host_")
        }
    }

    @Test func theMetricsTextfileOnPostgresSaysWhatSQLitesSays() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let box = try Sandbox()
        try Self.dropForMetrics(box)
        let folder = box.root.appendingPathComponent("textfile").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let sqliteFile = folder + "/sqlite.prom"
        let postgresFile = folder + "/postgres.prom"
        let sqlite = try box.podpiped(["--once"], env: ["PODPIPE_METRICS_TEXTFILE": sqliteFile])
        #expect(sqlite.status == 0, "\(sqlite.stderr)")
        let postgres = try Self.once(
            box.dataLoad, server.uri, env: ["PODPIPE_METRICS_TEXTFILE": postgresFile])
        #expect(postgres.status == 0, "\(postgres.stderr)")
        #expect(!postgres.stderr.contains("metrics textfile not written"), "\(postgres.stderr)")
        let expected = try String(contentsOfFile: sqliteFile, encoding: .utf8)
        let written = try String(contentsOfFile: postgresFile, encoding: .utf8)
        #expect(Self.timeless(expected).count > 40)
        #expect(Self.timeless(written) == Self.timeless(expected))
        for line in [
            #"podpipe_files{kind="events",state="duplicate"} 1"#,
            #"podpipe_rejected_row_codes_total{kind="events",code="invalid_event_type"} 1"#,
            #"podpipe_rows_rejected_total{kind="episodes"} 1"#,
            #"podpipe_file_load_seconds_count{kind="events"} 3"#,
            #"podpipe_table_rows{layer="gold",table="gold_agg_day"} 1"#,
        ] {
            #expect(written.contains(line + "\n"), "missing: \(line)\n\(written)")
        }
        // The same names and label sets, but the hosts' (one per host and folder).
        func names(_ text: String) -> [String] {
            text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map(String.init)
        }
        #expect(names(written).filter { !$0.contains("podpipe_host_") } == names(expected))
        let host = DaemonLiveness.hostName()
        #expect(
            written.contains(#"podpipe_host_daemon_up{host="\#(host)",data_load="\#(box.dataLoad)"} 0"#),
            "\(written)")
        // podpipectl metrics on the warehouse: the textfile's text.
        let ctl = try Self.ctl(["metrics"], server.uri, folder: box.dataLoad)
        #expect(ctl.status == 0, "\(ctl.stderr)")
        #expect(Self.timeless(ctl.stdout) == Self.timeless(written))
        if let promtool = CtlHealthMetricsTests.promtool {
            for text in [written, ctl.stdout] {
                let check = try Binaries.runProgram(promtool, ["check", "metrics"], stdin: Data(text.utf8))
                #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
                #expect(check.stdout.isEmpty && check.stderr.isEmpty, "\(check.stdout)\(check.stderr)")
            }
        } else {
            print("promtool not installed (Debian package prometheus): the text was not linted")
        }
    }

    @Test func ackOnPostgresSaysAndDoesWhatItDoesOnSQLite() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let box = try Sandbox()
        try Self.dropForMetrics(box)
        try box.drop("events-bad.ndjson", "hello\n", mtime: 1_700_000_500)
        #expect(try box.podpiped().status == 0)
        #expect(try Self.once(box.dataLoad, server.uri).status == 0)
        func both(_ args: [String]) throws -> (sqlite: ProcessResult, postgres: ProcessResult) {
            (try box.ctl(args), try Self.ctl(args, server.uri, folder: box.dataLoad))
        }
        // The files' finished_at differ between the two loads (seconds apart).
        func timeless(_ text: String) -> String {
            text.replacingOccurrences(
                of: #"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"#, with: "TIME",
                options: .regularExpression)
        }
        func canonical(_ object: [String: Any]) throws -> String {
            timeless(
                String(
                    decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]),
                    as: UTF8.self))
        }
        func health(_ run: ProcessResult) throws -> [String: Int] {
            let json = try jsonValue(run.stdout) as? [String: Any]
            return ((json?["health"] as? [String: Any]) ?? [:]).compactMapValues { $0 as? Int }
                .filter { $0.key.hasPrefix("unacknowledged") || $0.key == "acknowledged" }
        }
        let before = try both(["status", "--json"])
        #expect(try health(before.postgres) == health(before.sqlite))
        #expect(try health(before.postgres)["unacknowledged_rejected"] == 2)
        // Text: a name acknowledged, a name with nothing to acknowledge, a name unknown.
        for args in [
            ["ack", "events-empty.ndjson"], ["ack", "events-empty.ndjson", "events-a.ndjson"],
            ["ack", "events-emtpy.ndjson"], ["ack", "--all", "--json"], ["ack", "--all"],
        ] {
            let run = try both(args)
            #expect(run.postgres.status == run.sqlite.status, "\(args): \(run.postgres.stderr)")
            #expect(run.postgres.stderr == run.sqlite.stderr, "\(args)")
            if args.contains("--json") {
                // The same JSON but `via`: SQLite took the writer lock (no daemon ran); on
                // PostgreSQL ack always writes beside the writers.
                let sqlite = try #require(try jsonValue(run.sqlite.stdout) as? [String: Any])
                let postgres = try #require(try jsonValue(run.postgres.stdout) as? [String: Any])
                #expect(sqlite["via"] as? String == "writer_lock")
                #expect(postgres["via"] as? String == "beside_writer")
                #expect(
                    try canonical(postgres.filter { $0.key != "via" })
                        == canonical(sqlite.filter { $0.key != "via" }))
                #expect((postgres["acknowledged"] as? [Any])?.count == 1)
            } else {
                #expect(timeless(run.postgres.stdout) == timeless(run.sqlite.stdout), "\(args)")
                #expect(!run.postgres.stdout.isEmpty || run.postgres.status != 0)
            }
        }
        let after = try both(["status", "--json"])
        #expect(try health(after.postgres) == health(after.sqlite))
        #expect(try health(after.postgres)["acknowledged"] == 2)
        #expect(after.postgres.status == after.sqlite.status)
        let rows = try PostgresConnection(uri: server.uri).query(
            "SELECT string_agg(name || ':' || state, ',' ORDER BY name) FROM ingest_ack"
        ).scalar
        #expect(rows == "events-bad.ndjson:rejected,events-empty.ndjson:rejected")
    }

    @Test func twoDaemonsOnOneHostWithTwoFoldersAreTwoEntriesOfStatus() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let first = try Sandbox()
        let second = try Sandbox()
        try first.drop("events-1.ndjson", eventLines(50, seed: 1), mtime: 1_700_000_000)
        try second.drop("events-2.ndjson", eventLines(60, seed: 2), mtime: 1_700_000_000)
        let env = [
            "PODPIPE_WATCH_MODE": "poll", "PODPIPE_WATCH_RESCAN_INTERVAL": "1", "PODPIPE_WATCH_SETTLE": "0",
        ]
        let daemons = try [first, second].map { box in
            try DaemonProcess(
                box: box, arguments: ["--data-load", box.dataLoad, "--database", server.uri], env: env)
        }
        for daemon in daemons { #expect(daemon.waitReady(), "\(daemon.stderr)") }
        let connection = { try PostgresConnection(uri: server.uri, timeout: 5) }
        func scalar(_ sql: String) -> String? { try? connection().query(sql).scalar }
        #expect(
            eventually { scalar("SELECT count(*) FROM daemon_state WHERE state = 'running'") == "2" },
            "\(daemons.map(\.stderr))")
        #expect(eventually { scalar("SELECT count(*) FROM ingest_file WHERE state = 'loaded'") == "2" })
        // The daemon of each folder records its own count of files waiting (0 once loaded).
        #expect(
            eventually {
                scalar("SELECT string_agg(files_waiting::text, ',') FROM daemon_waiting") == "0,0"
            })

        let status = try Self.ctl(["status", "--json"], server.uri, folder: first.dataLoad)
        let json = try #require(try jsonValue(status.stdout) as? [String: Any], "\(status.stderr)")
        let hosts = try #require(json["hosts"] as? [[String: Any]], "\(status.stdout)")
        #expect(hosts.count == 2, "\(hosts)")
        let host = DaemonLiveness.hostName()
        #expect(Set(hosts.compactMap { $0["host"] as? String }) == [host])
        #expect(
            hosts.compactMap { $0["data_load"] as? String }
                == [first.dataLoad, second.dataLoad].sorted {
                    Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8))
                })
        for entry in hosts {
            #expect(entry["state"] as? String == "running", "\(entry)")
            #expect(entry["folder"] as? String == entry["data_load"] as? String)
            #expect(entry["ledger_files"] as? Int == 1)
            #expect(entry["files_waiting"] as? Int == 0)
            let pid = daemons[entry["data_load"] as? String == first.dataLoad ? 0 : 1].pid
            #expect(entry["pid"] as? Int == Int(pid), "\(entry)")
        }
        // `daemon` is this host's daemon of the folder asked about.
        let daemon = try #require(json["daemon"] as? [String: Any])
        #expect(daemon["state"] as? String == "running")
        #expect(daemon["pid"] as? Int == Int(daemons[0].pid), "\(daemon)")
        let other = try Self.ctl(["status", "--json"], server.uri, folder: second.dataLoad)
        let otherDaemon = (try jsonValue(other.stdout) as? [String: Any])?["daemon"] as? [String: Any]
        #expect(otherDaemon?["pid"] as? Int == Int(daemons[1].pid), "\(other.stdout)")
        let text = try Self.ctl(["status"], server.uri, folder: first.dataLoad)
        #expect(text.stdout.contains("hosts     2 running · 0 stopped"), "\(text.stdout)")

        for daemon in daemons { #expect(daemon.stop()?.status == 0) }
        #expect(scalar("SELECT string_agg(state, ',') FROM daemon_state") == "stopped,stopped")
    }

    /// On PostgreSQL the writer lock, the ledger's names and the daemon's row belong to (host,
    /// folder): a SIGHUP naming another folder keeps the running one and says to restart.
    @Test func aReloadKeepsTheFolderOnPostgres() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let box = try Sandbox()
        let other = box.root.appendingPathComponent("other_load").path
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        let configPath = box.root.appendingPathComponent("podpipe.json").path
        func writeConfig(folder: String, level: String) throws {
            let json = """
                {"data_load": "\(folder)", "database": "\(server.uri)",
                 "watch": {"mode": "poll", "rescan_interval": 1, "settle": 0},
                 "gold": {"refresh_interval": 3600}, "log": {"level": "\(level)"}}
                """
            try Data(json.utf8).write(to: URL(fileURLWithPath: configPath))
        }
        try writeConfig(folder: box.dataLoad, level: "info")
        let daemon = try DaemonProcess(box: box, arguments: ["--config", configPath])
        #expect(daemon.waitReady(), "\(daemon.stderr)")
        try writeConfig(folder: other, level: "debug")
        let mark = daemon.notify.messages.count
        daemon.signal(SIGHUP)
        #expect(daemon.notify.waitForLine("READY=1", after: mark), "\(daemon.notify.messages)")
        #expect(daemon.stderr.contains("the drop folder cannot change while running on PostgreSQL"))
        #expect(daemon.stderr.contains("changed=log.level"), "\(daemon.stderr)")
        try Data(eventLines(6, seed: 12).utf8).write(to: URL(fileURLWithPath: other + "/ignored.ndjson"))
        try box.drop("kept.ndjson", eventLines(5, seed: 11))
        let connection = { try PostgresConnection(uri: server.uri, timeout: 5) }
        func scalar(_ sql: String) -> String? { try? connection().query(sql).scalar }
        #expect(eventually { scalar("SELECT string_agg(name, ',') FROM ingest_file") == "kept.ndjson" })
        #expect(scalar("SELECT string_agg(data_load, ',') FROM daemon_state") == box.dataLoad)
        #expect(daemon.process.isRunning)
        #expect(daemon.stop()?.status == 0)
    }

    @Test func migration0004KeepsTheRowsOfEveryHostAndFolder() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let connection = try PostgresConnection(uri: server.uri)
        let before = PostgresMigrations.files().filter { $0.0 < "0004" }
        #expect(before.map(\.0) == ["0001_ledger_bronze_silver", "0002_gold", "0003_host_waiting"])
        try PostgresMigrations.migrate(connection, files: before)
        let columns = PostgresDaemonState.columns.joined(separator: ", ")
        try connection.execute(
            """
            INSERT INTO daemon_state (\(columns)) VALUES
              ('h1', 'stopped', 7, 'a', 'b', 5, 30, 'inotify', '/srv/a', NULL, NULL, NULL, NULL, NULL,
               1, 0, 0, 0, NULL, NULL, 1);
            INSERT INTO daemon_waiting (host, files_waiting, recorded_at) VALUES ('h1', 3, 'x'), ('h2', 4, 'y');
            """)
        #expect(try PostgresMigrations.migrate(connection).first == "0004_daemon_state_folder")
        #expect(
            try connection.query(
                "SELECT string_agg(host || ':' || data_load || ':' || files_waiting, ',' ORDER BY host) FROM daemon_waiting"
            ).scalar == "h1:/srv/a:3,h2::4")
        // A second folder on the same host is a row of its own.
        var record = DaemonStateRecord(
            state: .running, pid: 8, host: "h1", startedAt: "a", heartbeatAt: "b", heartbeatIntervalS: 5,
            staleAfterS: 30, watchMode: "poll", dataLoad: "/srv/b")
        try PostgresDaemonState.save(record, connection)
        record.pid = 9
        try PostgresDaemonState.save(record, connection)
        #expect(
            try connection.query(
                "SELECT string_agg(host || ':' || data_load || ':' || pid, ',' ORDER BY data_load) FROM daemon_state"
            ).scalar == "h1:/srv/a:7,h1:/srv/b:9")
    }
}
