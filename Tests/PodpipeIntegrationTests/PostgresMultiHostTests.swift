import Foundation
import PodpipeSampleData
import Testing

@testable import PodpipeCore

#if canImport(Glibc)
    import Glibc
#endif

/// Several hosts and the failures of a shared PostgreSQL warehouse (issue 18), with the real
/// binaries against a real throwaway server: daemons named as hosts (`PODPIPE_HOST_NAME`) on
/// their own folders and on one shared folder, a host killed mid-refresh, the server
/// restarted mid-load, a COMMIT whose reply is lost.
@Suite("PostgreSQL: several hosts and their faults against a real server", .serialized)
struct PostgresMultiHostTests {
    /// The daemon settings of these tests: polling every second, files ready at once, gold
    /// refreshed every second, a failed file retried after a second.
    static let daemonEnvironment = [
        "PODPIPE_WATCH_MODE": "poll", "PODPIPE_WATCH_RESCAN_INTERVAL": "1", "PODPIPE_WATCH_SETTLE": "0",
        "PODPIPE_GOLD_REFRESH_INTERVAL": "1", "PODPIPE_INGEST_RETRY_BACKOFF": "1",
    ]

    /// A daemon of `host` on `folder`, into `uri`.
    static func daemon(
        _ box: Sandbox, host: String, folder: String, uri: String, label: String, env: [String: String] = [:]
    ) throws -> DaemonProcess {
        try DaemonProcess(
            box: box, arguments: ["--data-load", folder, "--database", uri],
            env: daemonEnvironment.merging(env) { $1 }.merging(["PODPIPE_HOST_NAME": host]) { $1 },
            name: label)
    }

    /// `podpiped --once` of `host` on `folder` into `uri`.
    static func once(_ folder: String, _ uri: String, host: String, env: [String: String] = [:]) throws
        -> ProcessResult
    {
        try Binaries.run(
            "podpiped", ["--once", "--data-load", folder, "--database", uri],
            env: env.merging(["PODPIPE_HOST_NAME": host]) { $1 }, timeout: 300)
    }

    /// A new folder under the sandbox.
    static func folder(_ box: Sandbox, _ name: String) throws -> String {
        let path = box.root.appendingPathComponent(name).path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Delivers `data` into `folder` as a producer does: written beside it, then renamed in.
    static func deliver(_ data: Data, as name: String, into folder: String, box: Sandbox) throws {
        let staging = try Self.folder(box, "incoming")
        let temporary = staging + "/" + UUID().uuidString
        try data.write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, folder + "/" + name) == 0 else { throw POSIXError(.EIO) }
    }

    static func scalar(_ uri: String, _ sql: String) -> String? {
        try? PostgresConnection(uri: uri, timeout: 10).query(sql).scalar
    }

    /// Every gold table and view (`gold_*`, `dim_*`, `fact_*`; only the tables with
    /// `tablesOnly`), every column but the event, file and interaction ids, sorted rows.
    static func goldSnapshot(_ connection: PostgresConnection, tablesOnly: Bool = false) throws -> [String:
        [String]]
    {
        let names = try connection.query(
            """
            SELECT table_name FROM information_schema.tables
            WHERE table_schema = current_schema()
              AND (table_name LIKE 'gold\\_%' OR table_name LIKE 'dim\\_%' OR table_name LIKE 'fact\\_%')
              AND ($1 = 'false' OR table_type = 'BASE TABLE')
            ORDER BY table_name
            """, [tablesOnly ? "true" : "false"]
        ).rows.compactMap { $0.first ?? nil }
        var result: [String: [String]] = [:]
        for name in names {
            let table = try connection.query("SELECT * FROM \(name)")
            let kept = table.columns.indices.filter { index in
                let column = table.columns[index]
                return
                    !(column.hasSuffix("event_id") || column.hasSuffix("file_id")
                    || column == "interaction_id")
            }
            result[name] = table.rows.map { row in kept.map { row[$0] ?? "∅" }.joined(separator: "|") }
                .sorted()
        }
        return result
    }

    /// Three hosts, each a daemon on its own drop folder, and two of them also on one shared
    /// folder (a second daemon of the host given the same path: a podpiped watches one
    /// folder); the same bytes delivered to two hosts' folders under other names, events
    /// duplicated across hosts' files, files arriving while the daemons run. Every file's
    /// bytes are loaded once, and the answers are those of one SQLite `podpiped --once` over
    /// the union of the files.
    ///
    /// Both daemons on the shared folder make progress: each records every file of it
    /// (the one that loads it, the other `duplicate` once the first committed), so neither
    /// waited on the other for more than a file's transaction; no timing is measured.
    @Test func threeHostsAndASharedFolderLoadEachFileOnceWithSQLitesAnswers() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let box = try Sandbox()
        let generated = try Self.folder(box, "generated")
        _ = try SampleDataGenerator.write(
            SampleDataSpec(
                seed: 18, events: 4_800, users: 70, episodes: 24, eventFiles: 8, gzipFiles: 1,
                dirtyRate: 0.05, duplicateRate: 0, days: 30, recordEvents: false),
            to: generated)
        let names = try FileManager.default.contentsOfDirectory(atPath: generated).sorted()
        let events = names.filter { $0.contains(".ndjson") || $0.contains(".json") }
        let references = names.filter { $0.hasSuffix(".csv") }
        #expect(events.count == 8 && !references.isEmpty, "\(names)")
        func bytes(_ name: String) throws -> Data {
            try Data(contentsOf: URL(fileURLWithPath: generated + "/" + name))
        }
        // Events duplicated across hosts: identical lines of two plain files of other hosts
        // (the first committed wins; identical, so the winner does not change an answer),
        // and new lines.
        let plain = events.filter { !$0.hasSuffix(".gz") }
        func lines(_ name: String, _ count: Int) throws -> String {
            String(decoding: try bytes(name), as: UTF8.self).split(separator: "\n").prefix(count)
                .joined(separator: "\n") + "\n"
        }
        let crossHost = try lines(plain[1], 60) + lines(plain[5], 60) + eventLines(40, seed: 77)

        let folderA = try Self.folder(box, "host-a")
        let folderB = try Self.folder(box, "host-b")
        let folderC = try Self.folder(box, "host-c")
        let shared = try Self.folder(box, "shared")
        // (folder, daemon label, host, name, bytes), in two waves: before and while they run.
        typealias Delivery = (folder: String, label: String, host: String, name: String, data: Data)
        func on(_ folder: String, _ label: String, _ host: String, _ name: String, _ data: Data) -> Delivery {
            (folder, label, host, name, data)
        }
        var first: [Delivery] = []
        for name in references { first.append(on(folderA, "a", "host-a", name, try bytes(name))) }
        first.append(on(folderA, "a", "host-a", events[0], try bytes(events[0])))
        first.append(on(folderB, "b", "host-b", events[2], try bytes(events[2])))
        first.append(on(folderB, "b", "host-b", "copy-of-a-" + events[0], try bytes(events[0])))
        first.append(on(folderC, "c", "host-c", events[4], try bytes(events[4])))
        first.append(on(shared, "sa", "host-a", events[5], try bytes(events[5])))
        var second: [Delivery] = []
        second.append(on(folderA, "a", "host-a", events[1], try bytes(events[1])))
        second.append(on(folderB, "b", "host-b", events[3], try bytes(events[3])))
        second.append(on(folderC, "c", "host-c", "copy-of-b-" + events[2], try bytes(events[2])))
        second.append(on(folderC, "c", "host-c", "cross-host.ndjson", Data(crossHost.utf8)))
        second.append(on(shared, "sa", "host-a", events[6], try bytes(events[6])))
        second.append(on(shared, "sa", "host-a", events[7], try bytes(events[7])))
        for delivery in first {
            try Self.deliver(delivery.data, as: delivery.name, into: delivery.folder, box: box)
        }

        let uri = server.uri
        let daemons = [
            try Self.daemon(box, host: "host-a", folder: folderA, uri: uri, label: "a"),
            try Self.daemon(box, host: "host-b", folder: folderB, uri: uri, label: "b"),
            try Self.daemon(box, host: "host-c", folder: folderC, uri: uri, label: "c"),
            try Self.daemon(box, host: "host-a", folder: shared, uri: uri, label: "sa"),
            try Self.daemon(box, host: "host-b", folder: shared, uri: uri, label: "sb"),
        ]
        for daemon in daemons { #expect(daemon.waitReady(timeout: 60), "\(daemon.stderr)") }
        for delivery in second {
            try Self.deliver(delivery.data, as: delivery.name, into: delivery.folder, box: box)
        }

        // Every daemon's folder, with what it holds (the shared one's files are in both
        // shared daemons' scopes).
        let all = first + second
        let sharedNames = Set(all.filter { $0.folder == shared }.map(\.name))
        // What the ledger records: every delivery, and the shared files once more (the
        // second daemon on the shared folder).
        let recorded =
            all + all.filter { $0.folder == shared }.map { on(shared, "sb", "host-b", $0.name, $0.data) }
        let scopes: [(host: String, folder: String, count: Int)] = [
            ("host-a", folderA, all.filter { $0.folder == folderA }.count),
            ("host-b", folderB, all.filter { $0.folder == folderB }.count),
            ("host-c", folderC, all.filter { $0.folder == folderC }.count),
            ("host-a", shared, sharedNames.count), ("host-b", shared, sharedNames.count),
        ]
        let connection = try PostgresConnection(uri: uri, timeout: 30)
        func settled(_ host: String, _ folder: String) throws -> Int {
            Int(
                try connection.query(
                    """
                    SELECT count(DISTINCT name) FROM ingest_file
                    WHERE host = $1 AND data_load = $2 AND state IN ('loaded', 'duplicate', 'rejected')
                    """, [host, folder]
                ).scalar ?? "0") ?? 0
        }
        #expect(
            eventually(timeout: 120) {
                try scopes.allSatisfy { try settled($0.host, $0.folder) == $0.count }
            }, "\(daemons.map(\.stderr))")
        // Gold caught up with silver (a daemon refreshes every second).
        #expect(
            eventually(timeout: 60) {
                try connection.query(
                    """
                    SELECT (SELECT value FROM pipeline_state WHERE key = 'gold.watermark_event_id')
                         = (SELECT max(event_id)::text FROM silver_event)
                    """
                ).scalar == "t"
            })
        for daemon in daemons { #expect(daemon.stop()?.status == 0, "\(daemon.stderr)") }
        // No file failed on the way, not even once and retried.
        for daemon in daemons {
            #expect(!daemon.stderr.contains("file failed"), "\(daemon.stderr)")
            #expect(!daemon.stderr.contains("pass failed"), "\(daemon.stderr)")
        }

        // Exactly once: one `loaded` row per (kind, bytes), the other copies `duplicate`,
        // nothing failed; the shared folder's files recorded by both its daemons, each file
        // loaded by one of them.
        let perBytes = try connection.query(
            """
            SELECT kind, sha256, count(*) FILTER (WHERE state = 'loaded'),
                   count(*) FILTER (WHERE state NOT IN ('loaded', 'duplicate'))
            FROM ingest_file GROUP BY kind, sha256
            """
        ).rows
        let distinct = Set(all.map(\.data)).count
        #expect(perBytes.count == distinct)
        for row in perBytes { #expect(row[2] == "1" && row[3] == "0", "\(row)") }
        #expect(try connection.query("SELECT count(*) FROM ingest_file").scalar == String(recorded.count))
        let sharedRows = try connection.query(
            """
            SELECT host, count(*), count(*) FILTER (WHERE state = 'loaded') FROM ingest_file
            WHERE data_load = $1 GROUP BY host ORDER BY host
            """, [shared]
        ).rows
        #expect(sharedRows.map { $0[0] } == ["host-a", "host-b"])
        #expect(sharedRows.allSatisfy { $0[1] == String(sharedNames.count) }, "\(sharedRows)")
        #expect(sharedRows.compactMap { $0[2].flatMap { Int($0) } }.reduce(0, +) == sharedNames.count)
        #expect(
            try connection.query(
                "SELECT count(*) FROM (SELECT 1 FROM silver_event GROUP BY ts, user_id, episode_id, event_type HAVING count(*) > 1) AS d"
            ).scalar == "0")

        // The same files through SQLite, one folder, each delivery a file of its own name.
        for delivery in recorded {
            let name = delivery.name.hasSuffix(".csv") ? delivery.name : "\(delivery.label)-\(delivery.name)"
            try Self.deliver(delivery.data, as: name, into: box.dataLoad, box: box)
        }
        let sqlite = try box.podpiped()
        #expect(sqlite.status == 0, "\(sqlite.stderr)")
        // A pass of host-a again loads nothing (everything is settled) and brings gold up
        // to date if the last refresh ran before the last file committed.
        let again = try Self.once(folderA, uri, host: "host-a")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try connection.query("SELECT count(*) FROM ingest_file").scalar == String(recorded.count))
        #expect(
            try connection.query("SELECT count(*) FROM silver_event").scalar
                == String(try box.query("SELECT count(*) FROM silver_event") ?? -1))

        var runs: [[String]] = ReportKind.allCases.map { [$0.rawValue] }
        runs.append(["multi-episode-users", "--by-day"])
        for args in runs {
            let expected = try box.ctl(["report"] + args + ["--format", "csv"])
            let actual = try Binaries.run(
                "podpipectl",
                ["report"] + args + ["--database", uri, "--data-load", folderA, "--format", "csv"])
            #expect(expected.status == 0 && actual.status == 0, "\(expected.stderr) \(actual.stderr)")
            #expect(!expected.stdout.isEmpty)
            #expect(actual.stdout == expected.stdout, "report \(args)")
        }
        let expected = try #require(
            try jsonValue(try box.ctl(["status", "--json"]).stdout) as? [String: Any])
        let status = try Binaries.run(
            "podpipectl", ["status", "--json", "--database", uri, "--data-load", folderA],
            env: ["PODPIPE_HOST_NAME": "host-a"])
        let actual = try #require(try jsonValue(status.stdout) as? [String: Any], "\(status.stderr)")
        for key in ["files", "rows", "gold", "reject_rate"] {
            let one = PostgresGoldTests.timeless(["value": expected[key] ?? NSNull()])
            let other = PostgresGoldTests.timeless(["value": actual[key] ?? NSNull()])
            #expect(
                try JSONSerialization.data(withJSONObject: other, options: [.sortedKeys])
                    == JSONSerialization.data(withJSONObject: one, options: [.sortedKeys]),
                "status \(key): \(other) vs SQLite \(one)")
        }
        // One entry per (host, drop folder): host-a and host-b each on their own and the shared.
        let hosts = (actual["hosts"] as? [[String: Any]])?.compactMap { entry -> String? in
            guard let host = entry["host"] as? String, let folder = entry["data_load"] as? String else {
                return nil
            }
            return "\(host) \(folder)"
        }.sorted()
        #expect(
            hosts
                == [
                    "host-a \(folderA)", "host-a \(shared)", "host-b \(folderB)", "host-b \(shared)",
                    "host-c \(folderC)",
                ].sorted(), "\(actual["hosts"] ?? "")")
    }

    /// A host killed (kill -9) inside its gold refresh's transaction, holding the refresh's
    /// advisory lock (`PODPIPE_CRASH_AT=gold-refresh`: after the aggregates were written,
    /// before the answers and the watermark): gold is as it was before (its transaction died
    /// with the connection; readers never saw any of it), the lock is gone with it, and
    /// another host's refresh brings gold to what a full rebuild gives.
    @Test func aHostKilledMidRefreshLeavesGoldAsItWasAndAnotherHostRefreshes() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let box = try Sandbox()
        let uri = server.uri
        let folderA = try Self.folder(box, "host-a")
        let folderB = try Self.folder(box, "host-b")
        try Self.deliver(
            Data("user_id,signup_date,country\nu1,2024-01-02,FR\nu2,2024-02-03,DE\n".utf8), as: "users.csv",
            into: folderB, box: box)
        for seed in 1...2 {
            try Self.deliver(
                Data(eventLines(400, seed: seed).utf8), as: "b-\(seed).ndjson", into: folderB, box: box)
        }
        let loadedB = try Self.once(folderB, uri, host: "host-b")
        #expect(loadedB.status == 0, "\(loadedB.stderr)")
        let connection = try PostgresConnection(uri: uri, timeout: 60)
        let before = try Self.goldSnapshot(connection, tablesOnly: true)
        let watermark = "SELECT value FROM pipeline_state WHERE key = 'gold.watermark_event_id'"
        let watermarkBefore = try connection.query(watermark).scalar
        #expect(watermarkBefore != nil)
        #expect(before["gold_agg_day_user_episode"]?.isEmpty == false, "\(before.keys.sorted())")

        // Host A loads its files, then dies in its refresh.
        for seed in 3...4 {
            try Self.deliver(
                Data(eventLines(400, seed: seed).utf8), as: "a-\(seed).ndjson", into: folderA, box: box)
        }
        let hostA = try Self.daemon(
            box, host: "host-a", folder: folderA, uri: uri, label: "a",
            env: ["PODPIPE_CRASH_AT": "gold-refresh"])
        #expect(eventually(timeout: 60) { !hostA.process.isRunning }, "\(hostA.stderr)")
        hostA.process.waitUntilExit()
        #expect(hostA.process.terminationReason == .uncaughtSignal)
        #expect(hostA.process.terminationStatus == SIGKILL)
        #expect(
            try connection.query(
                "SELECT count(*) FROM ingest_file WHERE host = 'host-a' AND state = 'loaded'"
            ).scalar == "2")
        #expect(try connection.query("SELECT count(*) FROM silver_event").scalar == "1600")
        // Nothing of the killed refresh is visible (tables only: the views over silver show
        // host A's events).
        #expect(try Self.goldSnapshot(connection, tablesOnly: true) == before)
        #expect(try connection.query(watermark).scalar == watermarkBefore)

        // Host B's next pass finds nothing to load and refreshes gold: the dead host's lock
        // does not hold it back.
        let refreshed = try Self.once(folderB, uri, host: "host-b")
        #expect(refreshed.status == 0, "\(refreshed.stderr)")
        #expect(
            try connection.query(
                "SELECT value = (SELECT max(event_id)::text FROM silver_event) FROM pipeline_state WHERE key = 'gold.watermark_event_id'"
            ).scalar == "t")
        let incremental = try Self.goldSnapshot(connection)
        #expect(incremental != before)
        #expect(try PostgresGoldRefresher().refresh(connection, now: Date(), forceFull: true).mode == .full)
        let rebuilt = try Self.goldSnapshot(connection)
        #expect(rebuilt.keys.sorted() == incremental.keys.sorted())
        for (name, rows) in rebuilt {
            #expect(incremental[name] == rows, "\(name) after the dead host's refresh")
        }
    }

    /// The server restarted (`pg_ctl stop -m immediate`, then started: a restart in
    /// immediate mode) while a daemon loads a large file: the file's transaction is lost
    /// whole, the daemon says it retries (its log, its status line) and loads the file once.
    @Test func aServerRestartedMidLoadLosesNothingAndDoublesNothing() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let box = try Sandbox()
        let uri = server.uri
        try box.drop("events-small.ndjson", eventLines(200, seed: 1), mtime: 1_700_000_000)
        let daemon = try Self.daemon(box, host: "host-a", folder: box.dataLoad, uri: uri, label: "a")
        #expect(daemon.waitReady(timeout: 60), "\(daemon.stderr)")
        #expect(
            eventually { Self.scalar(uri, "SELECT count(*) FROM ingest_file WHERE state = 'loaded'") == "1" })

        let lines = 60_000
        try Self.deliver(
            Data(eventLines(lines, seed: 2).utf8), as: "events-large.ndjson", into: box.dataLoad, box: box)
        // Mid-load: the file's transaction is open (its ledger row, the claim, is inserted
        // first, so the daemon's session holds `ingest_file`'s write lock until COMMIT)
        // while its rows are sent; nothing else this daemon does writes the ledger.
        #expect(
            eventually(timeout: 60) {
                Self.scalar(
                    uri,
                    """
                    SELECT count(*) FROM pg_locks AS l JOIN pg_class AS c ON c.oid = l.relation
                    WHERE c.relname = 'ingest_file' AND l.mode = 'RowExclusiveLock' AND l.granted
                      AND l.pid <> pg_backend_pid()
                    """) == "1"
            }, "\(daemon.stderr)")
        #expect(
            Self.scalar(uri, "SELECT count(*) FROM ingest_file WHERE name = 'events-large.ndjson'") == "0")
        server.crash()
        try server.start()

        #expect(
            eventually(timeout: 120) {
                Self.scalar(uri, "SELECT state FROM ingest_file WHERE name = 'events-large.ndjson'")
                    == "loaded"
            }, "\(daemon.stderr)")
        #expect(Self.scalar(uri, "SELECT count(*) FROM ingest_file") == "2")
        #expect(Self.scalar(uri, "SELECT count(*) FROM silver_event") == String(lines + 200))
        #expect(Self.scalar(uri, "SELECT count(*) FROM bronze_event") == String(lines + 200))
        #expect(daemon.stderr.contains("retry"), "\(daemon.stderr)")
        #expect(daemon.stderr.contains("reconnected to PostgreSQL"))
        let statusLines = daemon.notify.messages.flatMap { $0.split(separator: "\n") }.filter {
            $0.hasPrefix("STATUS=")
        }
        #expect(
            statusLines.contains { $0.contains("degraded") || $0.contains(" failed") }, "\(statusLines)")
        #expect(daemon.process.isRunning)
        #expect(daemon.stop()?.status == 0)
    }

    /// A COMMIT that reached the server and committed, whose reply is lost
    /// (`PODPIPE_CRASH_AT=commit-reply:2`: the second file's COMMIT; the connection is cut
    /// once the reply has arrived, before it is read): the writer connects again, finds the
    /// ledger row, counts the file as committed, and never loads it again.
    @Test func aLostCommitReplyIsResolvedByTheLedgerNotByLoadingAgain() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let box = try Sandbox()
        for (index, name) in ["events-a.ndjson", "events-b.ndjson", "events-c.ndjson"].enumerated() {
            try box.drop(name, eventLines(500, seed: index), mtime: 1_700_000_000 + Double(index))
        }
        let run = try Self.once(
            box.dataLoad, server.uri, host: "host-a",
            env: ["PODPIPE_CRASH_AT": "commit-reply:2", "PODPIPE_LOG_TARGET": "stderr"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(
            run.stderr.contains("the COMMIT's reply was lost; the transaction is found committed"),
            "\(run.stderr)")
        func ledger() -> String? {
            Self.scalar(
                server.uri, "SELECT string_agg(name || ':' || state, ',' ORDER BY file_id) FROM ingest_file")
        }
        let expected = "events-a.ndjson:loaded,events-b.ndjson:loaded,events-c.ndjson:loaded"
        #expect(ledger() == expected)
        #expect(Self.scalar(server.uri, "SELECT count(*) FROM silver_event") == "1500")
        #expect(Self.scalar(server.uri, "SELECT count(*) FROM bronze_event") == "1500")
        let again = try Self.once(box.dataLoad, server.uri, host: "host-a")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(ledger() == expected)
    }
}
