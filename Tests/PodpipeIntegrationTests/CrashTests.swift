import Foundation
import GRDB
import PodpipeSampleData
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Crash safety: `podpiped --once` is killed with SIGKILL while files arrive in small batches
/// (oldest first, as in production), restarted each time, and at the end every layer is
/// compared with a run of the same files that was never killed.
///
/// Two kinds of kills:
/// - at random moments (start-up and migration, mid-file, a CSV upsert, the gold refresh:
///   wherever the moment falls);
/// - forced, with the test-only hook `PODPIPE_CRASH_AT=<point>:<n>`
///   (Sources/PodpipeCore/Ingest/FaultInjection.swift), at each of `reference-upsert` (in
///   the middle of a users/episodes CSV), `event-rows` (in the middle of an event file),
///   `ledger-commit` (a file's ledger row final, its COMMIT not yet run) and `gold-refresh`
///   (inside the refresh transaction, aggregates written, answers not yet): the process must
///   die by SIGKILL, which proves the kill landed at that point, and the database must show
///   it (the file not in the ledger, gold not refreshed).
///
/// Reference exports that update existing ids arrive among the event files, so upserts
/// happen mid-run and incremental gold refreshes follow them. Short in `make test`;
/// `make crash-test` (scripts/crash-test.sh) sets PODPIPE_CRASH_KILLS, _FORCED, _EVENTS,
/// _FILES and _REFERENCE_UPDATES for the long version.
@Suite("Crash safety (kill -9)")
struct CrashTests {
    struct Settings {
        /// Kills wanted at random moments.
        var kills: Int
        /// Kills wanted at each forced point.
        var forced: Int
        var events: Int
        var files: Int
        /// Users/episodes update files arriving among the event files.
        var referenceUpdates: Int
        var seed: UInt64

        static var current: Settings {
            let env = ProcessInfo.processInfo.environment
            return Settings(
                kills: env["PODPIPE_CRASH_KILLS"].flatMap(Int.init) ?? 6,
                forced: env["PODPIPE_CRASH_FORCED"].flatMap(Int.init) ?? 2,
                events: env["PODPIPE_CRASH_EVENTS"].flatMap(Int.init) ?? 20_000,
                files: env["PODPIPE_CRASH_FILES"].flatMap(Int.init) ?? 24,
                referenceUpdates: env["PODPIPE_CRASH_REFERENCE_UPDATES"].flatMap(Int.init) ?? 4,
                seed: env["PODPIPE_CRASH_SEED"].flatMap(UInt64.init) ?? 20_261_127)
        }
    }

    /// The points of `PODPIPE_CRASH_AT`, in the order they are forced within one arrival.
    enum Point: String, CaseIterable {
        case referenceUpsert = "reference-upsert"
        case eventRows = "event-rows"
        case ledgerCommit = "ledger-commit"
        case goldRefresh = "gold-refresh"
    }

    /// Everything a user could observe, minus timings and ids.
    struct Snapshot: Equatable {
        var silverEvents: [String]
        var silverUsers: [String]
        var silverEpisodes: [String]
        var ledger: [String]
        var bronzeByOutcome: [String]
        var facts: Int
        /// Every gold table and dim_date, `table|row`, sorted.
        var gold: [String]
        var answers: [String]

        /// The names of the parts that differ.
        func differences(from other: Snapshot) -> [String] {
            var parts: [String] = []
            if silverEvents != other.silverEvents { parts.append("silver events") }
            if silverUsers != other.silverUsers { parts.append("silver users") }
            if silverEpisodes != other.silverEpisodes { parts.append("silver episodes") }
            if ledger != other.ledger { parts.append("ledger") }
            if bronzeByOutcome != other.bronzeByOutcome { parts.append("bronze") }
            if facts != other.facts { parts.append("facts") }
            if gold != other.gold { parts.append("gold tables") }
            if answers != other.answers { parts.append("answers") }
            return parts
        }
    }

    static func snapshot(database: String) throws -> Snapshot {
        let queue = try DatabaseQueue(path: database)
        let (events, users, episodes, ledger, bronze, facts, gold) = try queue.read { db in
            (
                try String.fetchAll(
                    db,
                    sql: """
                        SELECT user_id || '|' || episode_id || '|' || event_type || '|' || ts || '|' || COALESCE(duration, '')
                        FROM silver_event ORDER BY ts, user_id, episode_id, event_type
                        """),
                try String.fetchAll(
                    db,
                    sql:
                        "SELECT user_id || '|' || signup_date || '|' || country FROM silver_user ORDER BY user_id"
                ),
                try String.fetchAll(
                    db,
                    sql: """
                        SELECT episode_id || '|' || podcast_id || '|' || title || '|' || release_date || '|' || duration_seconds
                        FROM silver_episode ORDER BY episode_id
                        """),
                try String.fetchAll(
                    db,
                    sql: """
                        SELECT name || '|' || state || '|' || sha256 || '|' || rows_read || '|' || rows_loaded || '|' ||
                               rows_rejected || '|' || rows_duplicate
                        FROM ingest_file ORDER BY name, state
                        """),
                try String.fetchAll(
                    db,
                    sql: """
                        SELECT f.name || '|' || b.outcome || '|' || count(*) FROM bronze_event b JOIN ingest_file f USING (file_id)
                        GROUP BY f.name, b.outcome
                        UNION ALL
                        SELECT f.name || '|' || b.outcome || '|' || count(*) FROM bronze_reference b JOIN ingest_file f USING (file_id)
                        GROUP BY f.name, b.outcome
                        ORDER BY 1
                        """),
                try Int.fetchOne(db, sql: "SELECT count(*) FROM fact_user_interactions") ?? -1,
                try goldTables(db)
            )
        }
        var answers: [String] = []
        for report in [
            ["top-episodes"], ["listen-through"], ["multi-episode-users"],
            ["multi-episode-users", "--by-day"],
        ] {
            let result = try Binaries.run(
                "podpipectl", ["--database", database, "report"] + report + ["--format", "csv"])
            answers.append("\(report.joined(separator: " ")) [\(result.status)]\n\(result.stdout)")
        }
        return Snapshot(
            silverEvents: events, silverUsers: users, silverEpisodes: episodes, ledger: ledger,
            bronzeByOutcome: bronze, facts: facts, gold: gold, answers: answers)
    }

    /// The rows of every gold table (aggregates, reference snapshots, answers) and of
    /// dim_date. (The views over silver hold event and file ids, which differ between runs;
    /// silver itself is compared.)
    static func goldTables(_ db: Database) throws -> [String] {
        let tables = try String.fetchAll(
            db,
            sql: """
                SELECT name FROM sqlite_master
                WHERE type = 'table' AND (name LIKE 'gold\\_%' ESCAPE '\\' OR name = 'dim_date')
                ORDER BY name
                """)
        var rows: [String] = []
        for table in tables {
            let values = try Row.fetchAll(db, sql: "SELECT * FROM \(table)").map { row in
                table + "|" + row.databaseValues.map(\.description).joined(separator: "|")
            }
            rows += values.sorted()
        }
        return rows
    }

    /// Regular files of `folder`, in podpipe's processing order (mtime, then name bytes).
    static func orderedFiles(_ folder: String) throws -> [(name: String, mtime: Date)] {
        let names = try FileManager.default.contentsOfDirectory(atPath: folder)
        var files: [(name: String, mtime: Date)] = []
        for name in names {
            let attributes = try FileManager.default.attributesOfItem(atPath: folder + "/" + name)
            guard attributes[.type] as? FileAttributeType == .typeRegular,
                let mtime = attributes[.modificationDate] as? Date
            else { continue }
            files.append((name, mtime))
        }
        return files.sorted { a, b in
            if a.mtime != b.mtime { return a.mtime < b.mtime }
            return Array(a.name.utf8).lexicographicallyPrecedes(Array(b.name.utf8))
        }
    }

    /// A file as the unkilled run recorded it.
    struct Recorded {
        var kind: String
        var state: String
        var rowsRead: Int
        var rowsLoaded: Int
    }

    static func recorded(_ database: String) throws -> [String: Recorded] {
        let queue = try DatabaseQueue(path: database)
        let rows = try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT name, kind, state, rows_read, rows_loaded FROM ingest_file")
        }
        var result: [String: Recorded] = [:]
        for row in rows {
            result[row["name"]] = Recorded(
                kind: row["kind"], state: row["state"], rowsRead: row["rows_read"],
                rowsLoaded: row["rows_loaded"])
        }
        return result
    }

    /// Users and episodes exports arriving among the event files (alternately): each updates
    /// about a third of the ids (country, signup date; title, podcast, duration), adds ids
    /// that so far appeared in events only, and carries one bad row. Written into `folder`
    /// half a second after the event file it follows, so that both runs process it there.
    static func addReferenceUpdates(
        _ count: Int, users: Int, episodes: Int, seed: UInt64, to sandbox: Sandbox
    ) throws {
        guard count > 0 else { return }
        let events = try orderedFiles(sandbox.dataLoad).filter { $0.name.hasPrefix("events-") }
        guard !events.isEmpty else { return }
        var rng = SplitMix64(seed: seed ^ 0x5EED)
        func pick(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        func day() -> String {
            let month = 1 + pick(12)
            let day = 1 + pick(28)
            return "2023-\(month < 10 ? "0" : "")\(month)-\(day < 10 ? "0" : "")\(day)"
        }
        let countries = ["US", "GB", "DE", "IN", "BR", "FR", "JP", "NL", "SE", "MX"]
        for k in 0..<count {
            let after = events[min(events.count - 1, (k + 1) * events.count / (count + 1))]
            let number = (k / 2 + 1) < 10 ? "0\(k / 2 + 1)" : "\(k / 2 + 1)"
            var lines: [String]
            let name: String
            if k % 2 == 0 {
                name = "users-update-\(number).csv"
                lines = ["country,user_id,signup_date"]
                for n in 1...(users + 3) where pick(3) == 0 || n > users {
                    lines.append("\(countries[pick(countries.count)]),user_\(n),\(day())")
                }
                lines.insert("DE,user_\(1 + pick(users)),2023-02-30", at: 1 + pick(lines.count))
            } else {
                name = "episodes-update-\(number).csv"
                lines = ["episode_id,podcast_id,title,release_date,duration_seconds"]
                for n in 1...(episodes + 3) where pick(3) == 0 || n > episodes {
                    let title = "\"Update \(k + 1): episode \(n), the \"\"director's cut\"\"\""
                    lines.append("ep_\(n),podcast_\(1 + pick(9)),\(title),\(day()),\(600 + pick(6_600))")
                }
                lines.insert(
                    "ep_\(1 + pick(episodes)),podcast_1,Broken,2023-03-03,45:00", at: 1 + pick(lines.count))
            }
            try sandbox.drop(
                name, lines.joined(separator: "\n") + "\n", mtime: after.mtime.timeIntervalSince1970 + 0.5)
        }
    }

    @Test("kill -9 at random moments and at forced points, restart: the same result as a run never killed")
    func killAndRestart() throws {
        let settings = Settings.current
        let testStarted = Date()
        let reference = try Sandbox()
        let spec = SampleDataSpec(
            seed: settings.seed, events: settings.events, users: 150, episodes: 50,
            eventFiles: settings.files,
            gzipFiles: max(1, settings.files / 6), days: 30, ledgerEdgeCases: true)
        _ = try SampleDataGenerator.write(spec, to: reference.dataLoad)
        try Self.addReferenceUpdates(
            settings.referenceUpdates, users: spec.users, episodes: spec.episodes, seed: settings.seed,
            to: reference)
        let clean = try BoundedRun.run(
            "podpiped", ["--data-load", reference.dataLoad, "--database", reference.database, "--once"],
            timeout: 600)
        #expect(clean.status == 0, "\(clean.stderr.suffix(2000))")
        let expected = try Self.snapshot(database: reference.database)
        #expect(expected.silverEvents.count > 0)
        let recorded = try Self.recorded(reference.database)

        // The same files arrive in batches, in the same order, into a second folder whose
        // podpiped is killed. Small arrivals (files / (2 × wanted random kills) files each when
        // there are 4 or more files per wanted kill, as in the short version's 42 files and 6
        // kills; else one file): a kill can only land while something is pending.
        let crashed = try Sandbox()
        let files = try Self.orderedFiles(reference.dataLoad)
        let batch = files.count >= settings.kills * 4 ? files.count / (settings.kills * 2) : 1
        let arrivals = stride(from: 0, to: files.count, by: batch).map {
            Array(files[$0..<min(files.count, $0 + batch)])
        }
        func copy(_ arrival: [(name: String, mtime: Date)]) throws {
            for (name, mtime) in arrival {
                let target = crashed.dataLoad + "/" + name
                try FileManager.default.copyItem(atPath: reference.dataLoad + "/" + name, toPath: target)
                try crashed.setMtime(target, mtime.timeIntervalSince1970)
            }
        }

        // Forced kills: for each point, `forced` arrivals spread evenly over those where the
        // point can be reached (the first included: gold's first refresh is a full rebuild).
        var scheduled: [Point: [Int]] = [:]
        for point in Point.allCases {
            let reachable = arrivals.indices.filter { index in
                arrivals[index].contains { file in
                    guard let r = recorded[file.name] else { return false }
                    return Self.reaches(point, r)
                }
            }
            #expect(!reachable.isEmpty, "no arrival can reach \(point.rawValue)")
            guard !reachable.isEmpty, settings.forced > 0 else { continue }
            scheduled[point] = (0..<settings.forced).map { reachable[$0 * reachable.count / settings.forced] }
        }

        var rng = SplitMix64(seed: settings.seed)
        var forced: [Point: Int] = [:]
        var goldFull = 0
        var randomKills = 0
        var runs = 0
        var completed = 0
        var lastCleanDuration = 0.5
        var problems: [String] = []
        for (index, arrival) in arrivals.enumerated() {
            try copy(arrival)
            for point in Point.allCases {
                while (scheduled[point] ?? []).filter({ $0 <= index }).count > forced[point, default: 0] {
                    let before = try Self.state(crashed.database)
                    let pending = arrival.map(\.name).filter { !before.ledger.contains($0) }
                    guard
                        let plan = Self.plan(
                            point, pending: pending, recorded: recorded, goldStale: before.goldStale,
                            rng: &rng)
                    else { break }
                    runs += 1
                    let outcome = try Self.run(
                        crashed, killAfter: nil, env: ["PODPIPE_CRASH_AT": "\(point.rawValue):\(plan.n)"])
                    let after = try Self.state(crashed.database)
                    let landed = plan.check(before, after)
                    guard outcome.diedOfSIGKILL, landed == nil else {
                        problems.append(
                            "\(point.rawValue):\(plan.n) at arrival \(index) (\(pending)): "
                                + (outcome.diedOfSIGKILL
                                    ? "killed, but \(landed ?? "")"
                                    : "not killed (status \(outcome.status)): \(outcome.stderr.suffix(1000))")
                        )
                        break
                    }
                    forced[point, default: 0] += 1
                    if point == .goldRefresh && before.goldNeverRefreshed { goldFull += 1 }
                }
            }
            // Random moments: anywhere from start-up to just before the time the last full
            // pass needed; killed, the next run gets a little longer, until one finishes.
            var tries = 0
            while true {
                runs += 1
                tries += 1
                let delay = Double(rng.next() % 10_000) / 10_000 * lastCleanDuration * 0.9
                let outcome = try Self.run(crashed, killAfter: delay, env: [:])
                if outcome.killedByTest {
                    randomKills += 1
                    lastCleanDuration *= 1.25
                    if tries < 60 { continue }
                    problems.append("arrival \(index): no pass finished in \(tries) runs")
                    break
                }
                if outcome.status != 0 || outcome.diedOfSIGKILL {
                    problems.append(
                        "an unkilled pass failed (\(outcome.status)): \(outcome.stderr.suffix(2000))")
                }
                completed += 1
                lastCleanDuration = max(0.05, outcome.seconds)
                break
            }
            if problems.count > 5 { break }
        }
        #expect(problems == [])
        let final = try BoundedRun.run(
            "podpiped", ["--data-load", crashed.dataLoad, "--database", crashed.database, "--once"],
            timeout: 600)
        #expect(final.status == 0, "\(final.stderr.suffix(2000))")

        let actual = try Self.snapshot(database: crashed.database)
        var differences = actual.differences(from: expected)
        let violations = try invariantViolations(crashed.database)
        if !violations.isEmpty { differences.append("§4.2 invariant: \(violations.prefix(5))") }
        let twice =
            try crashed.query(
                "SELECT count(*) FROM (SELECT name FROM ingest_file WHERE state = 'loaded' GROUP BY name, sha256 HAVING count(*) > 1)"
            ) ?? -1
        if twice != 0 { differences.append("\(twice) file(s) loaded twice") }
        let loaded = try crashed.query("SELECT count(*) FROM ingest_file WHERE state = 'loaded'") ?? -1
        let forcedTotal = forced.values.reduce(0, +)
        let seconds = Int(Date().timeIntervalSince(testStarted).rounded())
        print(
            "crash test: \(randomKills + forcedTotal) kills (random \(randomKills), "
                + Point.allCases.reversed().map { "\($0.rawValue) \(forced[$0, default: 0])" }.joined(
                    separator: ", ")
                + ") over \(runs) runs (\(completed) finished on their own) in \(seconds) s; \(files.count) files (\(loaded) loaded once each), \(expected.silverEvents.count) silver events; "
                + (differences.isEmpty
                    ? "silver/gold/ledger identical to the unkilled run"
                    : "DIFFERENT from the unkilled run: \(differences.joined(separator: "; "))"))
        print(
            "crash test: gold-refresh kills during a full rebuild: \(goldFull), during incremental refreshes: \(forced[.goldRefresh, default: 0] - goldFull)"
        )
        #expect(
            randomKills >= settings.kills,
            "only \(randomKills) random kills landed (wanted \(settings.kills))")
        for point in Point.allCases {
            #expect(
                forced[point, default: 0] >= settings.forced,
                "\(forced[point, default: 0]) kills at \(point.rawValue) (wanted \(settings.forced))")
        }
        if settings.forced > 0 { #expect(goldFull >= 1, "no kill landed in a full gold rebuild") }
        #expect(differences == [])
        #expect(actual.ledger == expected.ledger, "ledger differs")
        #expect(actual.silverEvents == expected.silverEvents, "silver events differ")
        #expect(actual.gold == expected.gold, "gold tables differ")
        for (a, e) in zip(actual.answers, expected.answers) { #expect(a == e) }
    }

    /// Whether a file recorded so by the unkilled run takes a run through `point`.
    static func reaches(_ point: Point, _ file: Recorded) -> Bool {
        switch point {
        case .referenceUpsert: file.kind != "events" && file.rowsLoaded >= 2
        case .eventRows: file.kind == "events" && file.rowsRead >= 2
        case .ledgerCommit: ["loaded", "rejected", "duplicate"].contains(file.state)
        case .goldRefresh: file.state == "loaded" && file.rowsLoaded > 0
        }
    }

    /// What the test can see of the killed database.
    struct State {
        var ledger: Set<String>
        var goldStale: Bool
        var goldNeverRefreshed: Bool
        var goldRefreshedAt: String?
    }

    static func state(_ database: String) throws -> State {
        guard FileManager.default.fileExists(atPath: database) else {
            return State(ledger: [], goldStale: false, goldNeverRefreshed: true, goldRefreshedAt: nil)
        }
        let queue = try DatabaseQueue(path: database)
        return try queue.read { db in
            func value(_ key: String) throws -> String? {
                try String.fetchOne(
                    db, sql: "SELECT value FROM pipeline_state WHERE key = ?", arguments: [key])
            }
            let names = try String.fetchAll(db, sql: "SELECT name FROM ingest_file WHERE state <> 'failed'")
            let watermark = try value("gold.watermark_event_id").flatMap { Int64($0) }
            let maxEventId = try Int64.fetchOne(db, sql: "SELECT MAX(event_id) FROM silver_event") ?? 0
            let changes =
                try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM gold_reference_change)") ?? false
            let seenReference = try value("gold.seen_reference_version")
            let reference = try value("silver.reference_version") ?? "0"
            let seenGeneration = try value("gold.seen_generation")
            let generation = try value("silver.generation") ?? "0"
            let fresh =
                watermark == maxEventId && !changes && seenReference == reference
                && seenGeneration == generation
            return State(
                ledger: Set(names), goldStale: !fresh, goldNeverRefreshed: watermark == nil,
                goldRefreshedAt: try value("gold.refreshed_at"))
        }
    }

    /// A forced kill: the count for `PODPIPE_CRASH_AT=<point>:<n>`, and what the database
    /// must show afterwards (nil: as expected; else what is wrong).
    struct Plan {
        var n: Int
        var check: (State, State) -> String?
    }

    /// The plan for `point` given the arrival's files not yet in the killed run's ledger
    /// (processed in this order), or nil when the next run cannot reach the point.
    static func plan(
        _ point: Point, pending: [String], recorded: [String: Recorded], goldStale: Bool,
        rng: inout SplitMix64
    ) -> Plan? {
        func random(_ upper: Int) -> Int { 1 + Int(rng.next() % UInt64(max(1, upper))) }
        switch point {
        case .referenceUpsert, .eventRows:
            // Row n of the first pending file with two rows or more, before its last row.
            guard
                let target = pending.first(where: { name in
                    recorded[name].map { Self.reaches(point, $0) } ?? false
                }),
                let file = recorded[target]
            else { return nil }
            let rows = point == .eventRows ? file.rowsRead : file.rowsLoaded
            return Plan(n: random(rows - 1)) { _, after in
                after.ledger.contains(target) ? "\(target) was committed" : nil
            }
        case .ledgerCommit:
            guard !pending.isEmpty else { return nil }
            let n = random(pending.count)
            return Plan(n: n) { before, after in
                // Files waiting together commit as a group (Pipeline.ingestGroup): a kill just
                // before a file's COMMIT leaves the groups before its own, i.e. some of the
                // files before it, in order, and never it or a later one.
                let committed = pending.filter { after.ledger.contains($0) && !before.ledger.contains($0) }
                return committed == Array(pending.prefix(min(committed.count, n - 1)))
                    ? nil : "committed \(committed), expected some of the \(n - 1) before \(pending[n - 1])"
            }
        case .goldRefresh:
            let changes = pending.contains { name in
                recorded[name].map { Self.reaches(.goldRefresh, $0) } ?? false
            }
            guard goldStale || changes else { return nil }
            return Plan(n: 1) { before, after in
                if let left = pending.first(where: { !after.ledger.contains($0) }) {
                    return "\(left) not committed before the refresh"
                }
                if after.goldRefreshedAt != before.goldRefreshedAt { return "gold was refreshed" }
                return after.goldStale ? nil : "gold is not stale"
            }
        }
    }

    struct RunOutcome {
        var status: Int32
        var stderr: String
        var seconds: Double
        /// The test sent SIGKILL and that is what ended the process.
        var killedByTest: Bool
        /// The process ended by SIGKILL (from the test or from itself).
        var diedOfSIGKILL: Bool
    }

    /// Runs `podpiped --once` with `env` added; sends SIGKILL after `killAfter` seconds if it
    /// is still running (nil: never; then it is killed after 300 s and reported).
    static func run(_ sandbox: Sandbox, killAfter delay: Double?, env: [String: String]) throws -> RunOutcome
    {
        let process = Process()
        process.executableURL = Binaries.directory.appendingPathComponent("podpiped")
        process.arguments = ["--data-load", sandbox.dataLoad, "--database", sandbox.database, "--once"]
        process.environment = Binaries.environment(env)
        let errFile = sandbox.root.appendingPathComponent("stderr-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: errFile.path, contents: nil)
        let errHandle = try FileHandle(forWritingTo: errFile)
        defer { try? errHandle.close() }
        process.standardError = errHandle
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let started = Date()
        try process.run()
        let deadline = started.addingTimeInterval(delay ?? 300)
        var sent = false
        while process.isRunning {
            if Date() >= deadline {
                sent = kill(process.processIdentifier, SIGKILL) == 0
                break
            }
            usleep(2_000)
        }
        process.waitUntilExit()
        let bySignal = process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL
        var stderr = (try? String(contentsOf: errFile, encoding: .utf8)) ?? ""
        if sent && delay == nil { stderr += "\n(the test killed it after 300 s)" }
        return RunOutcome(
            status: process.terminationStatus, stderr: stderr, seconds: Date().timeIntervalSince(started),
            killedByTest: sent && bySignal, diedOfSIGKILL: bySignal && !(sent && delay == nil))
    }
}
