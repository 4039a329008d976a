import Foundation
import GRDB
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Readers against the running daemon (issue 6): while `podpiped` (inotify) ingests 2,000
/// small event files and two reference updates dropped into its folder (after a `--once`
/// pass over the first users and episodes exports), one plain thread runs
/// `podpipectl` in a loop (status --json, files, rejects, the reports in csv and json) and
/// another reads the database in read transactions. Every answer must succeed and show whole
/// files only (each `loaded` file with all the rows the test wrote into it) and a whole gold
/// (the aggregates and the answers computed from exactly the silver events up to gold's
/// watermark). At the end all files are loaded once and everything equals a `--once` run
/// over the same files.
@Suite("Concurrent readers against the running daemon", .serialized)
struct DaemonConcurrencyTests {
    /// A file the test drops, with the ledger counts it must get.
    struct DropFile: Sendable {
        var name: String
        var text: String
        var mtime: Double
        var read: Int
        var loaded: Int
        var rejected: Int
        var duplicate: Int
    }

    static let countries = ["BR", "DE", "FR", "GB", "JP", "US"]

    static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// `2024-03-01T00:00:00` plus `offset` seconds (offsets below 28 days).
    static func timestamp(_ offset: Int) -> String {
        let day = offset / 86_400
        let second = offset % 86_400
        return "2024-03-\(two(1 + day))T\(two(second / 3600)):\(two(second / 60 % 60)):\(two(second % 60))"
    }

    /// `events` event files (2 to 5 distinct valid events each; every tenth with an unknown
    /// event type, every fiftieth with a line that is not JSON, every twentieth re-delivering
    /// its own first event), and users/episodes exports: the first two before the events,
    /// updates (of countries, of durations, with one bad row) at 50 % and 75 % of them.
    /// In drop order, which is also mtime order.
    static func files(events count: Int) -> [DropFile] {
        let base = 1_700_000_000.0
        var users = ["user_id,signup_date,country"]
        for n in 0..<100 {
            users.append("cu\(n),2023-\(two(1 + n % 9))-\(two(10 + n % 9)),\(countries[n % countries.count])")
        }
        var episodes = ["episode_id,podcast_id,title,release_date,duration_seconds"]
        for n in 1...40 {
            episodes.append(
                "ep_\(n),podcast_\(1 + n % 5),\"Episode \(n), part \"\"\(n % 3)\"\"\",2023-06-01,\(600 + n * 61)"
            )
        }
        var usersUpdate = ["user_id,signup_date,country"]
        for n in 0..<50 {
            usersUpdate.append(
                "cu\(n),2023-\(two(1 + n % 9))-\(two(10 + n % 9)),\(countries[(n + 1) % countries.count])")
        }
        usersUpdate.insert("cu7,2023-02-30,DE", at: 8)
        var episodesUpdate = ["podcast_id,episode_id,release_date,duration_seconds,title"]
        for n in 1...20 {
            episodesUpdate.append(
                "podcast_\(1 + n % 5),ep_\(n),2023-06-01,\(900 + n * 37),Episode \(n) (recut)")
        }
        func csv(_ name: String, _ lines: [String], mtime: Double, rejected: Int = 0) -> DropFile {
            let rows = lines.count - 1
            return DropFile(
                name: name, text: lines.joined(separator: "\n") + "\n", mtime: mtime, read: rows,
                loaded: rows - rejected, rejected: rejected, duplicate: 0)
        }

        var result = [
            csv("users-c-1.csv", users, mtime: base - 100),
            csv("episodes-c-1.csv", episodes, mtime: base - 99),
        ]
        let types = ["play", "complete", "pause", "seek"]
        for i in 0..<count {
            var lines: [String] = []
            let valid = 2 + i % 4
            for j in 0..<valid {
                let type = types[(i + j) % types.count]
                let duration =
                    type == "play" || type == "complete" ? "\(60 + (i * 13 + j * 31) % 3_000)" : "null"
                lines.append(
                    #"{"event_type": "\#(type)", "user_id": "cu\#(i % 97)", "episode_id": "ep_\#((i * 7 + j * 3) % 40 + 1)", "#
                        + #""timestamp": "\#(timestamp(i * 97 + j * 5))", "duration": \#(duration)}"#)
            }
            var rejected = 0
            var duplicate = 0
            if i % 10 == 3 {
                lines.insert(
                    #"{"event_type": "download", "user_id": "cu1", "episode_id": "ep_1", "timestamp": "2024-03-01T00:00:00"}"#,
                    at: 1)
                rejected += 1
            }
            if i % 50 == 7 {
                lines.append("this line is not JSON")
                rejected += 1
            }
            if i % 20 == 5, let first = lines.first {
                lines.append(first)
                duplicate += 1
            }
            result.append(
                DropFile(
                    name: "events-\(String(format: "%05d", i)).ndjson",
                    text: lines.joined(separator: "\n") + "\n",
                    mtime: base + Double(i), read: lines.count, loaded: valid, rejected: rejected,
                    duplicate: duplicate))
            if i == count / 2 {
                result.append(csv("users-c-2.csv", usersUpdate, mtime: base + Double(i) + 0.5, rejected: 1))
            }
            if i == count * 3 / 4 {
                result.append(csv("episodes-c-2.csv", episodesUpdate, mtime: base + Double(i) + 0.5))
            }
        }
        return result
    }

    @Test(
        "podpipectl in a loop while the daemon ingests 2,000 files: no failure, no half-loaded file, no half-refreshed gold"
    )
    func readersAgainstTheDaemon() throws {
        let count =
            Int(ProcessInfo.processInfo.environment["PODPIPE_DAEMON_CONCURRENCY_FILES"] ?? "") ?? 2_000
        let started = Date()
        let box = try Sandbox()
        let files = Self.files(events: count)
        let expected = Dictionary(uniqueKeysWithValues: files.map { ($0.name, $0) })
        // Written outside the folder with their final mtime, renamed in one by one.
        let stage = box.root.appendingPathComponent("stage").path
        try FileManager.default.createDirectory(atPath: stage, withIntermediateDirectories: true)
        for file in files {
            let path = stage + "/" + file.name
            try Data(file.text.utf8).write(to: URL(fileURLWithPath: path))
            try box.setMtime(path, file.mtime)
        }

        // The first users and episodes exports are there before the daemon, loaded by a
        // `--once` pass (which also refreshes gold: the reports answer from the start).
        let seeded = files.prefix { !$0.name.hasPrefix("events-") }
        for file in seeded {
            try FileManager.default.moveItem(
                atPath: stage + "/" + file.name, toPath: box.dataLoad + "/" + file.name)
        }
        let seed = try BoundedRun.run(
            "podpiped", ["--data-load", box.dataLoad, "--database", box.database, "--once"], timeout: 120)
        #expect(seed.status == 0, "\(seed.stderr.suffix(1000))")

        let daemon = try DaemonProcess(
            box: box,
            env: [
                "PODPIPE_WATCH_MODE": "inotify", "PODPIPE_WATCH_RESCAN_INTERVAL": "2",
                "PODPIPE_WATCH_SETTLE": "1", "PODPIPE_GOLD_REFRESH_INTERVAL": "1",
            ])
        #expect(daemon.waitReady(timeout: 60), "no READY=1: \(daemon.stderr.suffix(2000))")

        let stop = Atomic<Bool>(false)
        let problems = Mutex<[String]>([])
        @Sendable func report(_ problem: String) {
            problems.withLock { if $0.count < 20 { $0.append(problem) } }
        }
        let database = box.database
        let dataLoad = box.dataLoad
        let root = box.root.path

        // Thread 1: podpipectl, every command in turn.
        let ctlCalls = Mutex<[String: Int]>([:])
        let ctlDone = DispatchSemaphore(value: 0)
        Thread {
            var checker = CtlChecker(
                expected: expected, database: database, dataLoad: dataLoad, scratch: root + "/ctl")
            var finalRound = false
            while true {
                if stop.load(ordering: .acquiring) { finalRound = true }
                for command in CtlChecker.commands {
                    let found = checker.run(command)
                    ctlCalls.withLock { $0[command.joined(separator: " "), default: 0] += 1 }
                    for problem in found {
                        report("podpipectl \(command.joined(separator: " ")): \(problem)")
                    }
                }
                if finalRound { break }
            }
            ctlDone.signal()
        }.start()

        // Thread 2: read transactions on the database.
        let snapshots = Atomic<Int>(0)
        let statesSeen = Mutex<(files: Set<Int>, watermarks: Set<Int64>)>(([], []))
        let sqlDone = DispatchSemaphore(value: 0)
        Thread {
            var finalRound = false
            while true {
                if stop.load(ordering: .acquiring) { finalRound = true }
                do {
                    let check = try Self.snapshot(database: database, expected: expected)
                    for problem in check.problems { report("read transaction: \(problem)") }
                    statesSeen.withLock {
                        $0.files.insert(check.files)
                        $0.watermarks.insert(check.watermark)
                    }
                } catch {
                    report("read transaction failed: \(error)")
                }
                snapshots.add(1, ordering: .relaxed)
                if finalRound { break }
                usleep(100_000)
            }
            sqlDone.signal()
        }.start()

        // The producer: renames the staged files into the folder, about one per millisecond.
        let dropStarted = Date()
        for file in files.dropFirst(seeded.count) {
            try FileManager.default.moveItem(
                atPath: stage + "/" + file.name, toPath: dataLoad + "/" + file.name)
            usleep(1_000)
        }
        let dropSeconds = Date().timeIntervalSince(dropStarted)

        // Until every file is loaded and gold has caught up with silver.
        let caughtUp = eventually(timeout: 300) {
            let loaded = try box.query("SELECT count(*) FROM ingest_file WHERE state = 'loaded'") ?? 0
            guard loaded == files.count else { return false }
            return try CrashTests.state(database).goldStale == false
        }
        let ingestSeconds = Date().timeIntervalSince(dropStarted)
        stop.store(true, ordering: .releasing)
        ctlDone.wait()
        sqlDone.wait()
        let stopped = daemon.stop()
        #expect(
            caughtUp,
            "the daemon did not load everything and refresh gold in time: \(daemon.stderr.suffix(2000))")
        #expect(stopped?.status == 0, "the daemon did not stop cleanly: \(daemon.stderr.suffix(2000))")

        // The same files through `podpiped --once`, into another database.
        let onceDatabase = box.root.appendingPathComponent("once/podpipe.sqlite").path
        let once = try BoundedRun.run(
            "podpiped", ["--data-load", dataLoad, "--database", onceDatabase, "--once"], timeout: 600)
        #expect(once.status == 0, "\(once.stderr.suffix(2000))")
        let daemonSnapshot = try CrashTests.snapshot(database: database)
        let onceSnapshot = try CrashTests.snapshot(database: onceDatabase)
        let differences = daemonSnapshot.differences(from: onceSnapshot)
        #expect(differences == [], "the daemon's database differs from the --once run's")
        #expect(try invariantViolations(database) == [])
        #expect(try box.query("SELECT count(*) FROM ingest_file WHERE state = 'loaded'") == files.count)
        #expect(try box.query("SELECT count(DISTINCT name) FROM ingest_file") == files.count)
        #expect(try Self.snapshotProblems(database: database, expected: expected) == [])

        let calls = ctlCalls.withLock { $0 }
        let found = problems.withLock { $0 }
        let seen = statesSeen.withLock { $0 }
        func seconds(_ value: Double) -> String { String(format: "%.1f", value) }
        print(
            "daemon concurrency: \(files.count - seeded.count) files dropped into the running daemon's folder in \(seconds(dropSeconds)) s (after \(seeded.count) loaded by --once), all loaded and gold refreshed after \(seconds(ingestSeconds)) s; "
                + "\(calls.values.reduce(0, +)) podpipectl calls ("
                + calls.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                + ") and \(snapshots.load(ordering: .relaxed)) read transactions (\(seen.files.count) ledger states, \(seen.watermarks.count) gold watermarks), \(found.count) problem(s); "
                + (differences.isEmpty
                    ? "identical to a --once run" : "differs from a --once run: \(differences)")
                + " (--once: \(seconds(once.seconds)) s); \(Int(Date().timeIntervalSince(started).rounded())) s in all"
        )
        #expect(found == [])
        let least = calls.values.min() ?? 0
        #expect(least >= 2, "some podpipectl command ran fewer than twice during the ingest: \(calls)")
    }

    /// One read transaction: the ledger, bronze and silver agree file by file with what the
    /// test wrote (no half-loaded file), and gold is whole: its day aggregates, multi-episode
    /// users, listen-through by country and top episodes are exactly what the silver events up
    /// to the watermark (and gold's reference snapshot) give.
    static func snapshotProblems(database: String, expected: [String: DropFile]) throws -> [String] {
        try snapshot(database: database, expected: expected).problems
    }

    /// What one read transaction found wrong, and the state it saw (the number of files in
    /// the ledger and gold's watermark).
    struct SnapshotCheck {
        var problems: [String] = []
        var files = 0
        var watermark: Int64 = 0
    }

    static func snapshot(database: String, expected: [String: DropFile]) throws -> SnapshotCheck {
        guard FileManager.default.fileExists(atPath: database) else { return SnapshotCheck() }
        var configuration = Configuration()
        configuration.readonly = true
        // As podpipectl's readers do (Store.openReadOnly): in WAL mode a reader that opens
        // while a commit rewrites the WAL-index header may find it torn and get SQLITE_BUSY
        // at once without a busy timeout (seen once in a full `make test` run).
        configuration.busyMode = .timeout(5)
        let queue = try DatabaseQueue(path: database, configuration: configuration)
        return try queue.read { db in
            var problems: [String] = []
            var bronze: [Int64: Int] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT file_id, count(*) FROM bronze_event GROUP BY file_id
                    UNION ALL SELECT file_id, count(*) FROM bronze_reference GROUP BY file_id
                    """)
            {
                bronze[row[0], default: 0] += row[1] as Int
            }
            var silver: [Int64: Int] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT file_id, count(*) FROM silver_event GROUP BY file_id")
            {
                silver[row[0]] = row[1]
            }
            var ledgerIds: Set<Int64> = []
            var check = SnapshotCheck()
            for row in try Row.fetchAll(
                db,
                sql:
                    "SELECT file_id, name, kind, state, rows_read, rows_loaded, rows_rejected, rows_duplicate FROM ingest_file"
            ) {
                let id: Int64 = row["file_id"]
                let name: String = row["name"]
                ledgerIds.insert(id)
                guard let file = expected[name] else {
                    problems.append("unexpected ledger row \(name)")
                    continue
                }
                let counts =
                    [row["rows_read"], row["rows_loaded"], row["rows_rejected"], row["rows_duplicate"]]
                    as [Int]
                if row["state"] != "loaded"
                    || counts != [file.read, file.loaded, file.rejected, file.duplicate]
                {
                    problems.append(
                        "\(name): \(row["state"] as String) \(counts), expected loaded \([file.read, file.loaded, file.rejected, file.duplicate])"
                    )
                }
                if bronze[id, default: 0] != file.read {
                    problems.append("\(name): \(bronze[id, default: 0]) bronze rows, expected \(file.read)")
                }
                if row["kind"] == "events", silver[id, default: 0] != file.loaded {
                    problems.append(
                        "\(name): \(silver[id, default: 0]) silver events, expected \(file.loaded)")
                }
            }
            let orphans = Set(bronze.keys).union(silver.keys).subtracting(ledgerIds)
            if !orphans.isEmpty { problems.append("rows of files not in the ledger: \(orphans.sorted())") }
            problems += try goldProblems(db)
            check.problems = problems
            check.files = ledgerIds.count
            check.watermark =
                try String.fetchOne(
                    db, sql: "SELECT value FROM pipeline_state WHERE key = 'gold.watermark_event_id'"
                ).flatMap { Int64($0) } ?? 0
            return check
        }
    }

    /// Gold against silver, in the caller's read transaction.
    static func goldProblems(_ db: Database) throws -> [String] {
        var problems: [String] = []
        let watermark =
            try String.fetchOne(
                db, sql: "SELECT value FROM pipeline_state WHERE key = 'gold.watermark_event_id'"
            ).flatMap { Int64($0) } ?? 0
        func compare(_ what: String, _ goldSQL: String, _ silverSQL: String) throws {
            let gold = try String.fetchAll(db, sql: goldSQL)
            let fromSilver = try String.fetchAll(db, sql: silverSQL, arguments: ["w": watermark])
            if gold != fromSilver {
                problems.append(
                    "gold \(what) (\(gold.count) rows, first \(gold.prefix(3))) ≠ silver up to event \(watermark) (\(fromSilver.count) rows, first \(fromSilver.prefix(3)))"
                )
            }
        }
        try compare(
            "day aggregates",
            "SELECT day || '|' || events || '|' || plays || '|' || completions FROM gold_agg_day WHERE events > 0 ORDER BY day",
            """
            SELECT (ts / 86400) || '|' || count(*) || '|' || sum(event_type = 'play') || '|' || sum(event_type = 'complete')
            FROM silver_event WHERE event_id <= :w GROUP BY ts / 86400 ORDER BY ts / 86400
            """)
        let listeners = """
            SELECT user_id, ts / 86400 AS day FROM silver_event
            WHERE event_id <= :w AND event_type IN ('play', 'complete')
            GROUP BY user_id, ts / 86400 HAVING count(DISTINCT episode_id) >= 3
            """
        try compare(
            "multi-episode users", "SELECT CAST(users AS TEXT) FROM gold_multi_episode_users",
            "SELECT CAST(count(DISTINCT user_id) AS TEXT) FROM (\(listeners))")
        try compare(
            "multi-episode users by day",
            "SELECT day || '|' || users FROM gold_multi_episode_users_by_day ORDER BY day",
            "SELECT date(day * 86400, 'unixepoch') || '|' || count(*) FROM (\(listeners)) GROUP BY day ORDER BY day"
        )
        try compare(
            "listen-through completions by country",
            "SELECT country || '|' || completions FROM gold_listen_through_by_country ORDER BY country",
            """
            SELECT u.country || '|' || count(*) FROM silver_event e
            JOIN gold_ref_user u ON u.user_id = e.user_id
            JOIN gold_ref_episode p ON p.episode_id = e.episode_id AND p.duration_seconds > 0
            WHERE e.event_id <= :w AND e.event_type = 'complete'
            GROUP BY u.country ORDER BY u.country
            """)
        try compare(
            "top episodes",
            "SELECT episode_id || '|' || completions || '|' || window_end FROM gold_top_episodes_7d ORDER BY rank",
            """
            WITH last (day) AS (SELECT max(ts) / 86400 FROM silver_event WHERE event_id <= :w)
            SELECT episode_id || '|' || count(*) || '|' || date((SELECT day FROM last) * 86400, 'unixepoch')
            FROM silver_event
            WHERE event_id <= :w AND event_type = 'complete'
              AND ts / 86400 BETWEEN (SELECT day FROM last) - 6 AND (SELECT day FROM last)
            GROUP BY episode_id ORDER BY count(*) DESC, episode_id LIMIT 10
            """)
        return problems
    }
}

/// Runs `podpipectl` commands and checks each answer. Processes are started with
/// posix_spawn and reaped with waitpid, their output in files: no Foundation Process and no
/// Dispatch, so that a plain thread can run them in a loop on a busy machine.
struct CtlChecker {
    static let commands: [[String]] = [
        ["status", "--json"],
        ["files", "--format", "json"],
        ["report", "top-episodes", "--format", "csv"],
        ["rejects", "--summary", "--format", "json"],
        ["report", "listen-through", "--format", "json"],
        ["report", "multi-episode-users", "--format", "json"],
        ["report", "multi-episode-users", "--by-day", "--format", "csv"],
        ["rejects", "--format", "json", "--limit", "0"],
    ]

    let expected: [String: DaemonConcurrencyTests.DropFile]
    let database: String
    let dataLoad: String
    let scratch: String
    var lastLoaded = 0
    var lastSilver = 0

    init(
        expected: [String: DaemonConcurrencyTests.DropFile], database: String, dataLoad: String,
        scratch: String
    ) {
        self.expected = expected
        self.database = database
        self.dataLoad = dataLoad
        self.scratch = scratch
        try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    /// The parts of `status --json` checked here.
    struct Status: Decodable {
        struct Files: Decodable {
            var loaded: Int
            var rejected: Int
            var failed: Int
        }
        struct Rows: Decodable {
            var bronzeEvents: Int
            var silverEvents: Int
            var rejectedEvents: Int
            var duplicateEvents: Int
        }
        struct Daemon: Decodable {
            var state: String
        }
        var files: Files
        var rows: Rows
        var daemon: Daemon
        var healthy: Bool
        var problems: [String]
    }

    /// A row of `files --format json`.
    struct FilesRow: Decodable {
        var name: String
        var state: String
        var rowsRead: Int
        var rowsLoaded: Int
        var rowsRejected: Int
        var rowsDuplicate: Int
    }

    /// A row of `rejects --format json` and of `rejects --summary`'s `by_file`.
    struct RejectRow: Decodable {
        var file: String
        var rowsRead: Int?
        var rejected: Int?
    }

    struct RejectSummary: Decodable {
        var byFile: [RejectRow]
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) -> T? {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try? decoder.decode(type, from: Data(text.utf8))
    }

    /// Runs one command and returns what is wrong with its answer.
    mutating func run(_ command: [String]) -> [String] {
        let result = Spawn.run(
            Binaries.directory.appendingPathComponent("podpipectl").path,
            command + ["--database", database, "--data-load", dataLoad], scratch: scratch)
        if let failure = result.failure { return [failure] }
        let isStatus = command.first == "status"
        // status exits 1 when degraded; while files arrive gold may be older than silver.
        guard result.status == 0 || (isStatus && result.status == 1) else {
            return ["exit \(result.status): \(result.stderr.prefix(500))"]
        }
        let text = result.stdout
        func undecodable() -> [String] { ["unexpected output: \(text.prefix(300))"] }
        switch command.first {
        case "status":
            guard let status = Self.decode(Status.self, text) else { return undecodable() }
            return checkStatus(status, exit: result.status)
        case "files":
            guard let rows = Self.decode([FilesRow].self, text) else { return undecodable() }
            return checkFiles(rows)
        case "rejects" where command.contains("--summary"):
            guard let summary = Self.decode(RejectSummary.self, text) else { return undecodable() }
            return checkRejectSummary(summary.byFile)
        case "rejects":
            guard let rows = Self.decode([RejectRow].self, text) else { return undecodable() }
            return checkRejects(rows)
        case "report" where command.contains("top-episodes"):
            return checkTopEpisodes(text)
        case "report" where command.contains("--by-day"):
            return text.hasPrefix("day,users\n") ? [] : undecodable()
        case "report":
            let json = try? JSONSerialization.jsonObject(with: Data(text.utf8))
            return json is [Any] ? [] : undecodable()
        default:
            return []
        }
    }

    mutating func checkStatus(_ status: Status, exit: Int32) -> [String] {
        var found: [String] = []
        if exit != (status.healthy ? 0 : 1) { found.append("exit \(exit) but healthy = \(status.healthy)") }
        if !status.problems.allSatisfy({ $0 == "gold is older than silver" }) {
            found.append("problems: \(status.problems)")
        }
        if status.daemon.state != "running" { found.append("daemon \(status.daemon.state)") }
        if status.files.failed != 0 || status.files.rejected != 0 {
            found.append("files failed \(status.files.failed), rejected \(status.files.rejected)")
        }
        let rows = status.rows
        let parts = rows.silverEvents + rows.rejectedEvents + rows.duplicateEvents
        if rows.bronzeEvents != parts {
            found.append("bronze_events \(rows.bronzeEvents) ≠ silver + rejected + duplicates \(parts)")
        }
        if status.files.loaded < lastLoaded || rows.silverEvents < lastSilver {
            found.append(
                "went back: loaded \(lastLoaded) → \(status.files.loaded), silver \(lastSilver) → \(rows.silverEvents)"
            )
        }
        lastLoaded = status.files.loaded
        lastSilver = rows.silverEvents
        return found
    }

    /// Every file listed has the state and the counts of the file the test wrote.
    func checkFiles(_ rows: [FilesRow]) -> [String] {
        var found: [String] = []
        for row in rows {
            guard let file = expected[row.name] else {
                found.append("unexpected file \(row.name)")
                continue
            }
            let counts = [row.rowsRead, row.rowsLoaded, row.rowsRejected, row.rowsDuplicate]
            if row.state != "loaded" || counts != [file.read, file.loaded, file.rejected, file.duplicate]
                || counts[0] != counts[1] + counts[2] + counts[3]
            {
                found.append(
                    "\(row.name): \(row.state) \(counts), expected loaded \([file.read, file.loaded, file.rejected, file.duplicate])"
                )
            }
        }
        return found
    }

    /// Rejected rows per file (counted in bronze) are all of the file's rejected rows.
    func checkRejectSummary(_ rows: [RejectRow]) -> [String] {
        rows.compactMap { row in
            guard let file = expected[row.file] else { return "unexpected file \(row.file)" }
            return row.rejected == file.rejected && row.rowsRead == file.read
                ? nil
                : "\(row.file): \(row.rejected ?? -1) rejected of \(row.rowsRead ?? -1), expected \(file.rejected) of \(file.read)"
        }
    }

    /// Every rejected row listed belongs to a file the test wrote with that many rejected rows.
    func checkRejects(_ rows: [RejectRow]) -> [String] {
        var perFile: [String: Int] = [:]
        for row in rows { perFile[row.file, default: 0] += 1 }
        return perFile.compactMap { name, n in
            expected[name]?.rejected == n
                ? nil : "\(name): \(n) rejected rows listed, expected \(expected[name]?.rejected ?? 0)"
        }
    }

    /// `rank,episode_id,title,podcast_id,completions`, ranks 1… in order, completions not rising.
    func checkTopEpisodes(_ text: String) -> [String] {
        let rows = csvRows(text)
        guard rows.first == ["rank", "episode_id", "title", "podcast_id", "completions"] else {
            return ["unexpected CSV header: \(text.prefix(200))"]
        }
        let body = rows.dropFirst()
        let ranks = body.map { Int($0.first ?? "") ?? -1 }
        let completions = body.map { Int($0.last ?? "") ?? -1 }
        guard ranks == Array(1..<(body.count + 1)), body.count <= 10,
            zip(completions, completions.dropFirst()).allSatisfy({ $0 >= $1 })
        else { return ["top episodes out of order: \(text.prefix(500))"] }
        return []
    }
}

/// posix_spawn + waitpid, stdout and stderr into files.
enum Spawn {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// Set when the program could not be started or died of a signal.
        var failure: String?
    }

    static func run(_ executable: String, _ arguments: [String], scratch: String) -> Result {
        let outPath = scratch + "/stdout"
        let errPath = scratch + "/stderr"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let environment = Binaries.environment([:])
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else {
            return Result(
                status: -1, stdout: "", stderr: "",
                failure: "posix_spawn: \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            guard errno == EINTR else {
                return Result(
                    status: -1, stdout: "", stderr: "",
                    failure: "waitpid: \(String(cString: strerror(errno)))")
            }
        }
        let stdout = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        if status & 0x7f != 0 {
            return Result(
                status: -1, stdout: stdout, stderr: stderr, failure: "killed by signal \(status & 0x7f)")
        }
        return Result(status: (status >> 8) & 0xff, stdout: stdout, stderr: stderr, failure: nil)
    }
}
