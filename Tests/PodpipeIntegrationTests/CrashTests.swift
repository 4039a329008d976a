import Foundation
import GRDB
import PodpipeSampleData
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Crash safety: `podpiped --once` is killed with SIGKILL at random moments (during start-up
/// and migration, mid-file, during a CSV upsert, during the gold refresh) while files arrive
/// in batches, restarted each time, and at the end every layer is compared with a run that
/// was never killed. Short in `make test`; `make crash-test` sets PODPIPE_CRASH_KILLS (≥ 50)
/// and PODPIPE_CRASH_EVENTS for the long version.
@Suite("Crash safety (kill -9)")
struct CrashTests {
    struct Settings {
        var kills: Int
        var events: Int
        var files: Int
        var seed: UInt64

        static var current: Settings {
            let env = ProcessInfo.processInfo.environment
            return Settings(
                kills: env["PODPIPE_CRASH_KILLS"].flatMap(Int.init) ?? 6,
                events: env["PODPIPE_CRASH_EVENTS"].flatMap(Int.init) ?? 20_000,
                files: env["PODPIPE_CRASH_FILES"].flatMap(Int.init) ?? 24,
                seed: env["PODPIPE_CRASH_SEED"].flatMap(UInt64.init) ?? 20_261_127)
        }
    }

    /// Everything a user could observe, minus timings and file ids.
    struct Snapshot: Equatable {
        var silverEvents: [String]
        var silverUsers: [String]
        var silverEpisodes: [String]
        var ledger: [String]
        var bronzeByOutcome: [String]
        var facts: Int
        var answers: [String]
    }

    static func snapshot(_ sandbox: Sandbox) throws -> Snapshot {
        let queue = try DatabaseQueue(path: sandbox.database)
        let (events, users, episodes, ledger, bronze, facts) = try queue.read { db in
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
                        GROUP BY f.name, b.outcome ORDER BY f.name, b.outcome
                        """),
                try Int.fetchOne(db, sql: "SELECT count(*) FROM fact_user_interactions") ?? -1
            )
        }
        var answers: [String] = []
        for report in [
            ["top-episodes"], ["listen-through"], ["multi-episode-users"],
            ["multi-episode-users", "--by-day"],
        ] {
            let result = try Binaries.run(
                "podpipectl", ["--database", sandbox.database, "report"] + report + ["--format", "csv"])
            answers.append("\(report.joined(separator: " ")) [\(result.status)]\n\(result.stdout)")
        }
        return Snapshot(
            silverEvents: events, silverUsers: users, silverEpisodes: episodes, ledger: ledger,
            bronzeByOutcome: bronze, facts: facts, answers: answers)
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

    @Test("kill -9 at random moments, restart: the same result as a run never killed")
    func killAndRestart() throws {
        let settings = Settings.current
        let reference = try Sandbox()
        let spec = SampleDataSpec(
            seed: settings.seed, events: settings.events, users: 150, episodes: 50,
            eventFiles: settings.files,
            gzipFiles: max(1, settings.files / 6), days: 30, ledgerEdgeCases: true)
        _ = try SampleDataGenerator.write(spec, to: reference.dataLoad)
        let clean = try BoundedRun.run(
            "podpiped", ["--data-load", reference.dataLoad, "--database", reference.database, "--once"],
            timeout: 600)
        #expect(clean.status == 0, "\(clean.stderr.suffix(2000))")
        let expected = try Self.snapshot(reference)
        #expect(expected.silverEvents.count > 0)

        // The same files arrive in batches, in the same order, into a second folder whose
        // podpiped is killed at random moments.
        let crashed = try Sandbox()
        let files = try Self.orderedFiles(reference.dataLoad)
        // Small arrivals (one file, or about two per wanted kill in the long version): a kill
        // can only land while something is pending. On a quiet machine a pass over one file
        // takes a tenth of a second, so the kill delay is drawn below the last pass's time.
        let batch = files.count >= settings.kills * 4 ? files.count / (settings.kills * 2) : 1
        func copy(_ slice: ArraySlice<(name: String, mtime: Date)>) throws {
            for (name, mtime) in slice {
                let target = crashed.dataLoad + "/" + name
                try FileManager.default.copyItem(atPath: reference.dataLoad + "/" + name, toPath: target)
                try crashed.setMtime(target, mtime.timeIntervalSince1970)
            }
        }
        var rng = SplitMix(seed: settings.seed)
        var next = 0
        var kills = 0
        var runs = 0
        var completed = 0
        var lastCleanDuration = 0.5
        var lastRunCompleted = true
        let maxRuns = settings.kills * 8 + files.count + 10
        while (kills < settings.kills || next < files.count) && runs < maxRuns {
            if lastRunCompleted && next < files.count {
                try copy(files[next..<min(files.count, next + batch)])
                next = min(files.count, next + batch)
            } else if lastRunCompleted {
                // Everything has arrived and the last run finished: nothing left to interrupt.
                break
            }
            runs += 1
            // Anywhere from start-up to just before the time the last full pass needed.
            let delay = Double(rng.next() % 10_000) / 10_000 * lastCleanDuration * 0.9
            let outcome = try Self.runAndMaybeKill(crashed, after: delay)
            if outcome.killed {
                kills += 1
                lastRunCompleted = false
                // Killed before it could finish: give the next one a little longer, so that
                // runs make progress even when a file takes longer than the last clean pass.
                lastCleanDuration *= 1.25
            } else {
                #expect(outcome.status == 0, "an unkilled pass failed: \(outcome.stderr.suffix(2000))")
                completed += 1
                lastRunCompleted = true
                lastCleanDuration = max(0.05, outcome.seconds)
            }
        }
        // Whatever the loop left out arrives now (the comparison is over all files).
        try copy(files[next...])
        let final = try BoundedRun.run(
            "podpiped", ["--data-load", crashed.dataLoad, "--database", crashed.database, "--once"],
            timeout: 600)
        #expect(final.status == 0, "\(final.stderr.suffix(2000))")
        print(
            "crash test: \(kills) kills over \(runs) runs (\(completed) finished on their own), \(files.count) files, \(expected.silverEvents.count) silver events"
        )
        #expect(kills >= settings.kills, "only \(kills) kills landed (wanted \(settings.kills))")

        let actual = try Self.snapshot(crashed)
        #expect(actual.ledger == expected.ledger, "ledger differs")
        #expect(actual.silverEvents.count == expected.silverEvents.count)
        #expect(actual.silverEvents == expected.silverEvents, "silver events differ")
        #expect(actual.silverUsers == expected.silverUsers)
        #expect(actual.silverEpisodes == expected.silverEpisodes)
        #expect(actual.bronzeByOutcome == expected.bronzeByOutcome)
        #expect(actual.facts == expected.facts)
        for (a, e) in zip(actual.answers, expected.answers) { #expect(a == e) }
        #expect(try invariantViolations(crashed.database) == [])
        let twice = try crashed.query(
            "SELECT count(*) FROM (SELECT name FROM ingest_file WHERE state = 'loaded' GROUP BY name, sha256 HAVING count(*) > 1)"
        )
        #expect(twice == 0, "a file was loaded twice")
    }

    /// Runs `podpiped --once`; sends SIGKILL after `delay` seconds if it is still running.
    static func runAndMaybeKill(_ sandbox: Sandbox, after delay: Double) throws
        -> (killed: Bool, status: Int32, stderr: String, seconds: Double)
    {
        let process = Process()
        process.executableURL = Binaries.directory.appendingPathComponent("podpiped")
        process.arguments = ["--data-load", sandbox.dataLoad, "--database", sandbox.database, "--once"]
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("PODPIPE_") && key != "PODPIPE_BIN_DIR" {
            environment.removeValue(forKey: key)
        }
        environment.removeValue(forKey: "JOURNAL_STREAM")
        process.environment = environment
        let errFile = sandbox.root.appendingPathComponent("stderr-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: errFile.path, contents: nil)
        let errHandle = try FileHandle(forWritingTo: errFile)
        defer { try? errHandle.close() }
        process.standardError = errHandle
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let started = Date()
        try process.run()
        let deadline = started.addingTimeInterval(delay)
        var killed = false
        while process.isRunning {
            if Date() >= deadline {
                killed = kill(process.processIdentifier, SIGKILL) == 0
                break
            }
            usleep(2_000)
        }
        process.waitUntilExit()
        // Killed only counts when the signal is what ended it.
        killed = killed && process.terminationReason == .uncaughtSignal
        let stderr = (try? String(contentsOf: errFile, encoding: .utf8)) ?? ""
        return (killed, process.terminationStatus, stderr, Date().timeIntervalSince(started))
    }
}
