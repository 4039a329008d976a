import Foundation
import GRDB
import PodpipeSampleData
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// Helpers of the podpipectl integration tests (Ctl*Tests.swift): sample folders loaded by
// the real `podpiped --once`, snapshots of silver and gold, a running daemon.

/// A small generated data set (3,000 event lines, 4 event files, 1 gzipped) with the oracle
/// recorded.
func ctlSpec(edgeCases: Bool = false, seed: UInt64 = 7) -> SampleDataSpec {
    SampleDataSpec(
        seed: seed, events: 3_000, users: 60, episodes: 25, eventFiles: 4, gzipFiles: 1,
        dirtyRate: 0.05, duplicateRate: 0.02, days: 40, recordEvents: true,
        ledgerEdgeCases: edgeCases)
}

extension Sandbox {
    /// Generates `spec` into the drop folder and loads it with `podpiped --once`.
    func loadSample(_ spec: SampleDataSpec = ctlSpec()) throws -> SampleDataManifest {
        let manifest = try SampleDataGenerator.write(spec, to: dataLoad)
        let run = try podpiped()
        #expect(run.status == 0, "podpiped --once: \(run.stderr)")
        return manifest
    }

    /// Silver, by natural key and duration (event ids may differ between loads), plus the
    /// reference tables.
    func silverSnapshot() throws -> [String] {
        let events = try rows(
            "SELECT ts, user_id, episode_id, event_type, duration FROM silver_event ORDER BY ts, user_id, episode_id, event_type"
        ).map { row -> String in
            let duration: Int64? = row["duration"]
            let ts: Int64 = row["ts"] ?? 0
            let user: String = row["user_id"] ?? ""
            let episode: String = row["episode_id"] ?? ""
            let type: String = row["event_type"] ?? ""
            return "event \(ts)|\(user)|\(episode)|\(type)|\(duration.map(String.init) ?? "-")"
        }
        let episodes = try rows(
            "SELECT episode_id, podcast_id, title, release_date, duration_seconds FROM silver_episode ORDER BY episode_id"
        ).map {
            "episode \($0["episode_id"] as String? ?? "")|\($0["podcast_id"] as String? ?? "")|\($0["title"] as String? ?? "")|\($0["release_date"] as String? ?? "")|\($0["duration_seconds"] as Int64? ?? 0)"
        }
        let users = try rows("SELECT user_id, signup_date, country FROM silver_user ORDER BY user_id")
            .map {
                "user \($0["user_id"] as String? ?? "")|\($0["signup_date"] as String? ?? "")|\($0["country"] as String? ?? "")"
            }
        return events + episodes + users
    }

    /// Every gold table and view (`gold_*`, `dim_*`, `fact_*`), all columns but the
    /// interaction / event ids and the source file ids (a reloaded file has a new id),
    /// sorted: "the same gold" compares equal.
    func goldSnapshot() throws -> [String: [String]] {
        let db = try DatabaseQueue(path: database)
        return try db.read { db in
            let names = try String.fetchAll(
                db,
                sql: """
                    SELECT name FROM sqlite_master
                    WHERE type IN ('table', 'view')
                      AND (name LIKE 'gold\\_%' ESCAPE '\\' OR name LIKE 'dim\\_%' ESCAPE '\\'
                           OR name LIKE 'fact\\_%' ESCAPE '\\')
                    ORDER BY name
                    """)
            var result: [String: [String]] = [:]
            for name in names {
                let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(\(name))").compactMap {
                    row -> String? in
                    let column: String = row["name"] ?? ""
                    return column.hasSuffix("event_id") || column.hasSuffix("file_id")
                        || column == "interaction_id"
                        ? nil : column
                }
                guard !columns.isEmpty else { continue }
                let list = columns.map { "\"\($0)\"" }.joined(separator: ", ")
                let order = (1...columns.count).map(String.init).joined(separator: ", ")
                result[name] = try Row.fetchAll(db, sql: "SELECT \(list) FROM \(name) ORDER BY \(order)")
                    .map { row in
                        columns.indices.map { (row[$0] as DatabaseValue).description }.joined(separator: "|")
                    }
            }
            return result
        }
    }

    /// The CSV of every report (and the contract variants), for "same answers" checks.
    func reportSnapshot() throws -> [String: String] {
        var result: [String: String] = [:]
        let runs: [[String]] = [
            ["top-episodes"], ["listen-through"], ["multi-episode-users"],
            ["multi-episode-users", "--by-day"], ["cohort-retention"], ["episode-performance"],
            ["daily-activity"], ["engagement-by-length"],
        ]
        for args in runs {
            let run = try ctl(["report"] + args + ["--format", "csv"])
            #expect(run.status == 0, "report \(args): \(run.stderr)")
            result[args.joined(separator: " ")] = run.stdout
        }
        return result
    }

    func pipelineState(_ key: String) throws -> String? {
        try query("SELECT value FROM pipeline_state WHERE key = '\(key)'", as: String.self)
    }
}

/// The SHA-256 of a file's bytes (hex), with the system's sha256sum.
func sha256(ofFile path: String) throws -> String {
    let result = try Binaries.runProgram("/usr/bin/sha256sum", [path])
    return result.stdout.split(separator: " ").first.map(String.init) ?? ""
}

/// Parses `--format json` output (an array of objects, or one object).
func jsonValue(_ text: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(text.utf8))
}

/// A `podpiped` daemon running on a sandbox (the writer), stopped with SIGTERM.
final class RunningDaemon {
    let process = Process()

    init(_ box: Sandbox) throws {
        process.executableURL = Binaries.directory.appendingPathComponent("podpiped")
        process.arguments = [
            "--data-load", box.dataLoad, "--database", box.database, "--log-target", "stderr",
        ]
        var environment = Binaries.environment([:])
        environment.removeValue(forKey: "NOTIFY_SOCKET")
        environment["PODPIPE_WATCH_MODE"] = "poll"
        environment["PODPIPE_WATCH_RESCAN_INTERVAL"] = "1"
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Wait until it holds the writer lock (a flock on the database file: /proc/locks
        // lists it with the daemon's pid and the file's inode).
        let deadline = Date().addingTimeInterval(20)
        let pid = "\(process.processIdentifier)"
        while Date() < deadline {
            var st = stat()
            if stat(box.database, &st) == 0,
                let text = try? String(contentsOfFile: "/proc/locks", encoding: .utf8),
                text.split(separator: "\n").contains(where: { line in
                    let fields = line.split(separator: " ")
                    return fields.count > 5 && fields[1] == "FLOCK" && String(fields[4]) == pid
                        && fields[5].hasSuffix(":\(st.st_ino)")
                })
            {
                return
            }
            usleep(50_000)
        }
        stop()
        throw DaemonStartError()
    }

    struct DaemonStartError: Error {}

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

/// Writes to a sandbox database behind podpipe's back (to simulate damage).
struct GRDBWriter {
    let queue: DatabaseQueue

    init(_ path: String) throws {
        queue = try DatabaseQueue(path: path)
    }

    func execute(_ sql: String) throws {
        try queue.write { try $0.execute(sql: sql) }
    }
}
