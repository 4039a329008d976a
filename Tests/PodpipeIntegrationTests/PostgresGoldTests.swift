import Foundation
import GRDB
import PodpipeSampleData
import Testing

@testable import PodpipeCore

/// Gold, reports and status on PostgreSQL (issue 18) against a real server: the same silver
/// as a SQLite database loaded by the real `podpiped --once` gives the same gold, row by
/// row, and the same text of every report in every format.
@Suite("PostgreSQL gold, reports and status against a real server", .serialized)
struct PostgresGoldTests {
    /// Every fault kind of SPEC §2.1 and the ledger's edge cases, several days.
    static let spec = SampleDataSpec(
        seed: 11, events: 4_000, users: 80, episodes: 30, eventFiles: 4, gzipFiles: 1,
        dirtyRate: 0.05, duplicateRate: 0.02, days: 45, recordEvents: false, ledgerEdgeCases: true)

    @Test func goldAndReportsEqualSQLitesAfterEventsAndReferenceUpdates() throws {
        let box = try Sandbox()
        _ = try SampleDataGenerator.write(Self.spec, to: box.dataLoad)
        let first = try box.podpiped()
        #expect(first.status == 0, "\(first.stderr)")
        let server = try PostgresServer()
        defer { server.stop() }
        let connection = try PostgresConnection(uri: server.uri, timeout: 60)
        try PostgresMigrations.migrate(connection)
        let refresher = PostgresGoldRefresher()

        // 1. Everything at once: a full rebuild.
        try SilverCopy.copy(from: box.database, to: connection, folder: box.dataLoad)
        #expect(try refresher.refresh(connection, now: Date()).mode == .full)
        try expectSameGold(box, connection)
        try expectSameReports(box, connection, asOf: "2024-01-20")
        #expect(try refresher.refresh(connection, now: Date()).mode == .none)

        // 2. New events only: incremental from the watermark, on days of history, by users
        //    already active those days (their distinct counters must not count twice) and
        //    by new users.
        let active = try box.rows(
            """
            SELECT user_id, ts / 86400 AS day FROM silver_event GROUP BY user_id, ts / 86400
            ORDER BY (ts / 86400 * 7919 + length(user_id) * 31 + unicode(substr(user_id, -1))) % 101
            LIMIT 40
            """)
        let episodes = try box.rows("SELECT episode_id FROM silver_episode ORDER BY episode_id LIMIT 6")
            .compactMap { $0["episode_id"] as String? }
        var late: [String] = []
        for (index, row) in active.enumerated() {
            let user: String = row["user_id"] ?? "user_1"
            let day: Int64 = row["day"] ?? 19_725
            for (offset, episode) in episodes.enumerated() where offset <= index % 4 {
                let type = ["play", "complete", "pause", "seek"][(index + offset) % 4]
                let stamp = ISOTime.format(
                    Date(timeIntervalSince1970: Double(day * 86_400 + 3_600 + Int64(offset) * 61)))
                late.append(
                    #"{"user_id": "\#(user)", "episode_id": "\#(episode)", "event_type": "\#(type)", "timestamp": "\#(stamp)", "duration": \#(300 + index * 17)}"#
                )
            }
        }
        late.append(
            #"{"user_id": "newcomer", "episode_id": "ep_new", "event_type": "complete", "timestamp": "2024-01-05T10:00:00Z", "duration": 60}"#
        )
        try box.drop("events-late.ndjson", late.joined(separator: "\n") + "\n")
        #expect(try box.podpiped().status == 0)
        try SilverCopy.copy(from: box.database, to: connection, folder: box.dataLoad, references: false)
        let incremental = try refresher.refresh(connection, now: Date())
        #expect(incremental.mode == .incremental)
        #expect(incremental.newEvents > 0)
        try expectSameGold(box, connection)
        try expectSameReports(box, connection, asOf: nil)

        // 3. A reference update (users move country and cohort, an episode's length changes):
        //    both reconcile only the changed members; the same gold.
        let users = try box.rows("SELECT user_id FROM silver_user ORDER BY user_id LIMIT 5")
            .compactMap { $0["user_id"] as String? }
        var csv = "user_id,signup_date,country\n"
        for (index, user) in users.enumerated() { csv += "\(user),2023-0\(index + 1)-15,ZZ\(index % 2)\n" }
        try box.drop("users-update.csv", csv, mtime: Date().timeIntervalSince1970 + 5)
        let episode = try #require(
            try box.query(
                "SELECT episode_id FROM silver_episode ORDER BY episode_id LIMIT 1", as: String.self))
        try box.drop(
            "episodes-update.csv",
            "episode_id,podcast_id,title,release_date,duration_seconds\n\(episode),pod_x,\"Re-cut, \"\"longer\"\"\",2023-12-01,7777\n",
            mtime: Date().timeIntervalSince1970 + 6)
        #expect(try box.podpiped().status == 0)
        try SilverCopy.copy(from: box.database, to: connection, folder: box.dataLoad)
        let reconciled = try refresher.refresh(connection, now: Date())
        #expect(reconciled.mode == .incremental)
        #expect(reconciled.referenceChanged)
        try expectSameGold(box, connection)
        try expectSameReports(box, connection, asOf: "2024-02-03")
        // The incremental reconciliation equals a rebuild from scratch.
        #expect(try refresher.refresh(connection, now: Date(), forceFull: true).mode == .full)
        try expectSameGold(box, connection)
    }

    /// The real `podpiped --once` into PostgreSQL and into SQLite from one drop folder
    /// (generated, every fault kind), then again after a reference update and more events:
    /// `podpipectl report` gives the same text for every report in every format, and
    /// `podpipectl status --json` the same keys and values but the paths and times, plus the
    /// `hosts` array on PostgreSQL.
    @Test func realPodpipedGivesSQLitesReportsAndStatus() throws {
        let box = try Sandbox()
        _ = try SampleDataGenerator.write(Self.spec, to: box.dataLoad)
        let server = try PostgresServer()
        defer { server.stop() }
        func both() throws {
            let sqlite = try box.podpiped()
            #expect(sqlite.status == 0, "\(sqlite.stderr)")
            let postgres = try Binaries.run(
                "podpiped", ["--data-load", box.dataLoad, "--database", server.uri, "--once"])
            #expect(postgres.status == 0, "\(postgres.stderr)")
        }
        try both()
        try expectSameReportsAndStatus(box, uri: server.uri, asOf: "2024-01-20")

        let users = try box.rows("SELECT user_id FROM silver_user ORDER BY user_id LIMIT 4")
            .compactMap { $0["user_id"] as String? }
        var csv = "user_id,signup_date,country\n"
        for (index, user) in users.enumerated() { csv += "\(user),2023-1\(index)-03,QQ\n" }
        try box.drop("users-moved.csv", csv, mtime: Date().timeIntervalSince1970 + 5)
        try box.drop(
            "events-more.ndjson",
            users.map {
                #"{"user_id": "\#($0)", "episode_id": "ep_1", "event_type": "complete", "timestamp": "2024-01-09T08:00:00Z", "duration": 900}"#
            }.joined(separator: "\n") + "\n", mtime: Date().timeIntervalSince1970 + 6)
        try both()
        try expectSameReportsAndStatus(box, uri: server.uri, asOf: nil)
    }

    /// One refresh at a time across hosts, and the watermark's gate: while a refresh holds
    /// its advisory lock, a second refresh and any write to silver wait (here: until their
    /// deadline); once it commits, both go through.
    @Test func aRefreshExcludesOtherRefreshesAndHoldsSilverWritesBack() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let holder = try PostgresConnection(uri: server.uri, timeout: 20)
        try PostgresMigrations.migrate(holder)
        try holder.execute("BEGIN")
        try holder.query(
            "SELECT pg_advisory_xact_lock($1, $2)",
            [String(PostgresLockKey.namespace), String(PostgresLockKey.goldRefresh)])
        let other = try PostgresConnection(uri: server.uri, timeout: 20)
        #expect {
            try PostgresGoldRefresher(statementTimeout: 1).refresh(other, now: Date())
        } throws: { error in
            guard case .timeout = error as? PostgresError else { return false }
            return true
        }
        let writer = try PostgresConnection(uri: server.uri, timeout: 20)
        let insert = """
            INSERT INTO silver_event (ts, user_id, episode_id, event_type, duration, file_id, line_no)
            VALUES (1704067200, 'u', 'e', 'play', 10, 1, 1)
            """
        #expect {
            try writer.query(insert, timeout: 1)
        } throws: { error in
            guard case .timeout = error as? PostgresError else { return false }
            return true
        }
        try holder.execute("COMMIT")
        let again = try PostgresConnection(uri: server.uri, timeout: 20)
        // The abandoned insert may still have run once the lock was released (the server
        // notices a closed client only at its next check): the same row, at most once.
        try again.query(insert + " ON CONFLICT DO NOTHING")
        let summary = try PostgresGoldRefresher().refresh(again, now: Date())
        #expect(summary.mode == .full)
        #expect(summary.newEvents == 1)
    }

    /// A running daemon on PostgreSQL: `status` shows its host running, with the files it
    /// waits for as it recorded them (they are still settling), and stopped after SIGTERM.
    @Test func statusShowsEachHostsDaemonAndTheFilesItWaitsFor() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let box = try Sandbox()
        try box.drop("events-a.ndjson", eventLines(20, seed: 1))
        try box.drop("events-b.ndjson", eventLines(20, seed: 2))
        let daemon = try DaemonProcess(
            box: box, arguments: ["--data-load", box.dataLoad, "--database", server.uri],
            env: [
                "PODPIPE_WATCH_MODE": "poll", "PODPIPE_WATCH_RESCAN_INTERVAL": "1",
                "PODPIPE_WATCH_SETTLE": "3600",
            ])
        #expect(daemon.waitReady(), "\(daemon.stderr)")
        func status() throws -> [String: Any] {
            let run = try Binaries.run(
                "podpipectl", ["status", "--json", "--database", server.uri, "--data-load", box.dataLoad])
            return try #require(try jsonValue(run.stdout) as? [String: Any], "\(run.stderr)")
        }
        func host(_ report: [String: Any]) -> [String: Any]? {
            (report["hosts"] as? [[String: Any]])?.first {
                $0["host"] as? String == DaemonLiveness.hostName()
            }
        }
        #expect(eventually { (try? status()).flatMap(host)?["files_waiting"] as? Int == 2 })
        let running = try status()
        #expect(host(running)?["state"] as? String == "running")
        #expect(host(running)?["pid"] as? Int == Int(daemon.pid))
        #expect((running["daemon"] as? [String: Any])?["state"] as? String == "running")
        #expect((running["daemon"] as? [String: Any])?["writer_active"] as? Bool == true)
        #expect((running["files"] as? [String: Any])?["pending"] as? Int == 2)
        #expect(daemon.stop() != nil)
        let stopped = try status()
        #expect(host(stopped)?["state"] as? String == "stopped")
        #expect((stopped["daemon"] as? [String: Any])?["state"] as? String == "stopped")
        #expect((stopped["daemon"] as? [String: Any])?["writer_active"] as? Bool == false)
    }

    func expectSameReportsAndStatus(_ box: Sandbox, uri: String, asOf: String?) throws {
        var runs: [[String]] = ReportKind.allCases.map { [$0.rawValue] }
        runs.append(["multi-episode-users", "--by-day"])
        if let asOf { runs.append(["top-episodes", "--as-of", asOf]) }
        for args in runs {
            for format in ReportFormat.allCases {
                let flags = ["--format", format.rawValue]
                let sqlite = try box.ctl(["report"] + args + flags)
                let postgres = try Binaries.run(
                    "podpipectl",
                    ["report"] + args + ["--database", uri, "--data-load", box.dataLoad] + flags)
                #expect(sqlite.status == 0 && postgres.status == 0, "\(sqlite.stderr) \(postgres.stderr)")
                #expect(postgres.stdout == sqlite.stdout, "report \(args) \(flags)")
            }
        }
        let sqlite = try box.ctl(["status", "--json"])
        let postgres = try Binaries.run(
            "podpipectl", ["status", "--json", "--database", uri, "--data-load", box.dataLoad])
        #expect(sqlite.status == postgres.status, "\(sqlite.stdout) \(postgres.stdout)")
        var expected = try #require(try jsonValue(sqlite.stdout) as? [String: Any])
        var actual = try #require(try jsonValue(postgres.stdout) as? [String: Any])
        let hosts = try #require(actual.removeValue(forKey: "hosts") as? [[String: Any]])
        #expect(hosts.count == 1)
        #expect(hosts.first?["host"] as? String == DaemonLiveness.hostName())
        #expect(hosts.first?["ledger_files"] as? Int == (try box.query("SELECT count(*) FROM ingest_file")))
        #expect(expected["files"] != nil && expected["rows"] != nil)
        expected = Self.timeless(expected)
        actual = Self.timeless(actual)
        #expect(
            try JSONSerialization.data(withJSONObject: actual, options: [.sortedKeys])
                == JSONSerialization.data(withJSONObject: expected, options: [.sortedKeys]),
            "\(actual) vs \(expected)")
    }

    /// A status object without its database path and its times (ages and instants).
    static func timeless(_ object: [String: Any]) -> [String: Any] {
        let times: Set<String> = [
            "database", "at", "refreshed_at", "age_seconds", "last_pass_at", "last_pass_age_seconds",
        ]
        var result: [String: Any] = [:]
        for (key, value) in object where !times.contains(key) {
            if let nested = value as? [String: Any] {
                result[key] = timeless(nested)
            } else if let list = value as? [[String: Any]] {
                result[key] = list.map(timeless)
            } else {
                result[key] = value
            }
        }
        return result
    }

    /// Every gold table and view (`gold_*`, `dim_*`, `fact_*`), every column but the
    /// interaction / file ids, the same rows; reals compared exactly.
    func expectSameGold(_ box: Sandbox, _ connection: PostgresConnection) throws {
        let sqlite = try DatabaseQueue(path: box.database)
        let postgres = PostgresQueries(connection: connection)
        try sqlite.read { db in
            let names = try String.fetchAll(
                db,
                sql: """
                    SELECT name FROM sqlite_master WHERE type IN ('table', 'view')
                      AND (name LIKE 'gold\\_%' ESCAPE '\\' OR name LIKE 'dim\\_%' ESCAPE '\\'
                           OR name LIKE 'fact\\_%' ESCAPE '\\')
                    ORDER BY name
                    """)
            #expect(names.count >= 25)
            for name in names {
                let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(\(name))").compactMap {
                    row -> String? in
                    let column: String = row["name"] ?? ""
                    return column.hasSuffix("event_id") || column.hasSuffix("file_id")
                        || column == "interaction_id" ? nil : column
                }
                let select = "SELECT \(columns.map { "\"\($0)\"" }.joined(separator: ", ")) FROM \(name)"
                let expected = try SQLiteQueries(db: db).table(select, []).rows.map { "\($0)" }.sorted()
                let actual = try postgres.table(select, []).rows.map { "\($0)" }.sorted()
                #expect(
                    actual.count == expected.count, "\(name): \(actual.count) rows, SQLite \(expected.count)")
                let differing = zip(expected, actual).filter { $0 != $1 }
                #expect(differing.isEmpty, "\(name): \(differing.prefix(3))")
            }
        }
    }

    /// Every report, every format: PostgreSQL's text equals `podpipectl report`'s on SQLite.
    func expectSameReports(_ box: Sandbox, _ connection: PostgresConnection, asOf: String?) throws {
        let warehouse = Warehouse(connection: connection)
        var runs: [(ReportKind, ReportOptions, [String])] = ReportKind.allCases.map {
            ($0, ReportOptions(), [])
        }
        runs.append((.multiEpisodeUsers, ReportOptions(byDay: true), ["--by-day"]))
        if let asOf { runs.append((.topEpisodes, ReportOptions(asOf: asOf), ["--as-of", asOf])) }
        for (kind, options, flags) in runs {
            let table = try warehouse.report(kind, options: options)
            #expect(!table.rows.isEmpty, "\(kind.rawValue) \(flags) has rows")
            for format in ReportFormat.allCases {
                let sqlite = try box.ctl(["report", kind.rawValue] + flags + ["--format", format.rawValue])
                #expect(sqlite.status == 0, "\(sqlite.stderr)")
                let text = ReportRenderer.render(table, as: format)
                #expect(text == sqlite.stdout, "report \(kind.rawValue) \(flags) --format \(format.rawValue)")
            }
        }
    }
}

/// Fills PostgreSQL's silver (and ledger) from a SQLite database made by the real
/// `podpiped --once`: the events past PostgreSQL's largest event id (COPY), and the reference
/// rows (when `references`) and the ledger as they are now (replaced: the change triggers
/// log every reference row).
enum SilverCopy {
    static func copy(
        from path: String, to connection: PostgresConnection, folder: String, references: Bool = true
    ) throws {
        let sqlite = try DatabaseQueue(path: path)
        let known =
            Int64(try connection.query("SELECT COALESCE(MAX(event_id), 0) FROM silver_event").scalar ?? "0")
            ?? 0
        try connection.execute("BEGIN")
        try table(
            sqlite, connection, "silver_event",
            "event_id, ts, user_id, episode_id, event_type, duration, file_id, line_no",
            where: "event_id > \(known)")
        if references {
            try connection.execute("DELETE FROM silver_user; DELETE FROM silver_episode")
            try table(sqlite, connection, "silver_user", "user_id, signup_date, country, file_id, line_no")
            try table(
                sqlite, connection, "silver_episode",
                "episode_id, podcast_id, title, release_date, duration_seconds, file_id, line_no")
        }
        try connection.execute("DELETE FROM ingest_file")
        let ledger = try sqlite.read { db in
            try Row.fetchAll(db, sql: "PRAGMA table_info(ingest_file)").compactMap { $0["name"] as String? }
        }
        try table(sqlite, connection, "ingest_file", ledger.joined(separator: ", "))
        try connection.query(
            "UPDATE ingest_file SET host = $1, data_load = $2", [DaemonLiveness.hostName(), folder])
        try connection.execute("COMMIT")
    }

    static func table(
        _ sqlite: DatabaseQueue, _ connection: PostgresConnection, _ name: String, _ columns: String,
        where condition: String = "1"
    ) throws {
        let rows = try sqlite.read { db in
            try Row.fetchAll(db, sql: "SELECT \(columns) FROM \(name) WHERE \(condition)").map { row in
                Array(row.databaseValues).map { value -> String? in
                    switch value.storage {
                    case .null: nil
                    case .int64(let number): String(number)
                    case .double(let number): "\(number)"
                    case .string(let text): text
                    case .blob(let data): String(decoding: data, as: UTF8.self)
                    }
                }
            }
        }
        var index = 0
        try connection.copyIn("COPY \(name) (\(columns)) FROM STDIN") {
            guard index < rows.count else { return nil }
            defer { index += 1 }
            return PostgresCopyText.line(rows[index])
        }
    }
}
