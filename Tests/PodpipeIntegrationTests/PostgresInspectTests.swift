import Foundation
import GRDB
import PodpipeSampleData
import Testing

@testable import PodpipeCore

/// `podpipectl export`, `podpipe_catalog` and `podpipectl validate` on PostgreSQL (issue
/// 18) with the real binaries against a real server: one drop folder of generated dirty
/// data loaded by `podpiped --once` into SQLite and into PostgreSQL; every export, the
/// catalog and every dry run must be the same bytes on both.
@Suite("PostgreSQL export, catalog and validate against a real server", .serialized)
struct PostgresInspectTests {
    /// Every fault kind, duplicates, the ledger's edge cases, several days.
    static let spec = SampleDataSpec(
        seed: 23, events: 3_000, users: 60, episodes: 25, eventFiles: 3, gzipFiles: 1,
        dirtyRate: 0.06, duplicateRate: 0.03, days: 30, recordEvents: false, ledgerEdgeCases: true)

    /// The folder loaded into the sandbox's SQLite file and into the server.
    static func loadBoth(_ box: Sandbox, _ server: PostgresServer) throws {
        let sqlite = try box.podpiped()
        #expect(sqlite.status == 0, "\(sqlite.stderr)")
        let postgres = try Binaries.run(
            "podpiped", ["--data-load", box.dataLoad, "--database", server.uri, "--once"], timeout: 300)
        #expect(postgres.status == 0, "\(postgres.stderr)")
    }

    /// `podpipectl ARGS` against the server (the sandbox's folder).
    static func ctl(_ server: PostgresServer, _ box: Sandbox, _ args: [String]) throws -> ProcessResult {
        try Binaries.run(
            "podpipectl",
            [args[0], "--database", server.uri, "--data-load", box.dataLoad] + args.dropFirst(), timeout: 300)
    }

    @Test func everyExportIsByteForByteSQLites() throws {
        let box = try Sandbox()
        _ = try SampleDataGenerator.write(Self.spec, to: box.dataLoad)
        let server = try PostgresServer()
        defer { server.stop() }
        try Self.loadBoth(box, server)

        let names = try DatabaseQueue(path: box.database).read { db in try TableExport.exportableObjects(db) }
        #expect(names.count >= 10, "\(names)")
        let connection = try PostgresConnection(uri: server.uri)
        #expect(try PostgresExport.exportableObjects(connection) == names)

        // Surrogate ids are the engine's: PostgreSQL's identity skips the values an
        // `ON CONFLICT DO NOTHING` drew for a duplicate, SQLite's rowid does not, so the same
        // events get other event_ids (and the table's order by id follows). Those two are
        // compared without the id: as a multiset of lines, and by a query in every format.
        let surrogate = ["fact_user_interactions": "interaction_id", "silver_event": "event_id"]
        let queries = [
            """
            SELECT event_timestamp, event_date, event_unix_seconds, event_type, user_id, episode_id,
                   listened_seconds, user_known, episode_known, listen_through_rate, source_file_id,
                   source_line_no
            FROM fact_user_interactions ORDER BY event_unix_seconds, user_id, episode_id, event_type
            """,
            """
            SELECT ts, user_id, episode_id, event_type, duration, file_id, line_no
            FROM silver_event ORDER BY ts, user_id, episode_id, event_type
            """,
            // Integers, a sum (numeric on PostgreSQL), a double division, NULLs, text order.
            """
            SELECT user_id, count(*) AS events, sum(listened_seconds) AS listened,
                   CAST(sum(listened_seconds) AS DOUBLE PRECISION) / count(*) AS mean,
                   max(listen_through_rate) AS best, min(event_timestamp) AS first_seen
            FROM fact_user_interactions GROUP BY user_id ORDER BY user_id
            """,
            "SELECT * FROM dim_episodes WHERE duration_seconds > 600 ORDER BY title, episode_id",
            "SELECT 1 AS x WHERE 1 = 0",
        ]
        var runs: [[String]] = names.map { ["export", $0] }
        runs += queries.map { ["export", "--sql", $0] }
        for args in runs {
            for format in ExportFormat.allCases {
                let flags = ["--format", format.rawValue]
                let sqlite = try box.ctl(args + flags)
                let postgres = try Self.ctl(server, box, args + flags)
                #expect(
                    sqlite.status == 0 && postgres.status == 0, "\(args) \(sqlite.stderr) \(postgres.stderr)")
                #expect(!sqlite.stdout.isEmpty || format == .ndjson, "\(args)")
                if args.count == 2, let id = surrogate[args[1]] {
                    guard format == .csv else { continue }
                    func withoutIds(_ text: String) -> [Substring] {
                        text.split(separator: "\n").map { $0.drop { $0 != "," } }.sorted()
                    }
                    #expect(sqlite.stdout.hasPrefix(id + ","))
                    #expect(withoutIds(postgres.stdout) == withoutIds(sqlite.stdout), "\(args)")
                    continue
                }
                #expect(postgres.output == sqlite.output, "\(args) \(flags)")
                if postgres.output != sqlite.output {
                    let a = sqlite.stdout.split(separator: "\n", omittingEmptySubsequences: false)
                    let b = postgres.stdout.split(separator: "\n", omittingEmptySubsequences: false)
                    if let index = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?
                        .offset
                    {
                        Issue.record("first difference, line \(index): \(a[index]) | \(b[index])")
                    } else {
                        Issue.record("lines: \(a.count) vs \(b.count)")
                    }
                }
            }
        }
        // To a file too.
        let file = box.root.appendingPathComponent("dim_users.csv").path
        let out = try Self.ctl(server, box, ["export", "dim_users", "--out", file])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == box.ctl(["export", "dim_users"]).output)
    }

    @Test func writesAreRefusedOnBothAndNamesAreChecked() throws {
        let box = try Sandbox()
        _ = try SampleDataGenerator.write(Self.spec, to: box.dataLoad)
        let server = try PostgresServer()
        defer { server.stop() }
        try Self.loadBoth(box, server)
        let connection = try PostgresConnection(uri: server.uri)
        let counts = "SELECT (SELECT count(*) FROM silver_event) + (SELECT count(*) FROM silver_user)"
        let before = try connection.query(counts).scalar
        for sql in [
            "DELETE FROM silver_event",
            "SELECT 1; DELETE FROM silver_event",
            "WITH d AS (DELETE FROM silver_event RETURNING *) SELECT * FROM d",
            "UPDATE silver_user SET country = 'XX'",
            "DROP VIEW dim_users",
            "  -- a comment\n  INSERT INTO pipeline_state (key, value) VALUES ('x', 'y')",
        ] {
            let sqlite = try box.ctl(["export", "--sql", sql])
            let postgres = try Self.ctl(server, box, ["export", "--sql", sql])
            // SQLite refuses a write (1) or cannot parse a DELETE inside WITH (70).
            #expect(sqlite.status != 0, "\(sql): \(sqlite.stderr)")
            #expect(postgres.status == 1, "\(sql): \(postgres.stderr)")
            #expect(postgres.stderr.contains("read-only"), "\(sql): \(postgres.stderr)")
            #expect(postgres.stdout.isEmpty)
        }
        #expect(try connection.query(counts).scalar == before)
        #expect(try connection.query("SELECT count(*) FROM pipeline_state WHERE key = 'x'").scalar == "0")

        // A function that writes, inside a SELECT: the READ ONLY transaction refuses it.
        let nextval = try Self.ctl(
            server, box,
            ["export", "--sql", "SELECT nextval(pg_get_serial_sequence('silver_event', 'event_id'))"])
        #expect(nextval.status == 1, "\(nextval.stderr)")
        // A plain error is the server's, not a refusal.
        let typo = try Self.ctl(server, box, ["export", "--sql", "SELECT nope FROM dim_users"])
        #expect(typo.status != 0 && !typo.stderr.contains("read-only"), "\(typo.stderr)")

        let unknown = try Self.ctl(server, box, ["export", "gold_agg_day"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("fact_user_interactions"), "lists the known names: \(unknown.stderr)")
    }

    @Test func theCatalogIsSQLitesAndCommentsTheRelations() throws {
        let box = try Sandbox()
        _ = try SampleDataGenerator.write(Self.spec, to: box.dataLoad)
        let server = try PostgresServer()
        defer { server.stop() }
        try Self.loadBoth(box, server)
        let columns = "object_name, column_name, kind, layer, position, type, description"
        let sqlite = try box.rows("SELECT \(columns) FROM podpipe_catalog ORDER BY object_name, column_name")
            .map { row in
                (0..<7).map { index -> String in
                    index == 4 ? String(row[index] as Int64? ?? -1) : (row[index] as String? ?? "∅")
                }
            }
        let connection = try PostgresConnection(uri: server.uri)
        let postgres = try connection.query(
            "SELECT \(columns) FROM podpipe_catalog ORDER BY object_name COLLATE \"C\", column_name COLLATE \"C\""
        ).rows
        #expect(sqlite.count > 100)
        #expect(postgres.count == sqlite.count)
        for (a, b) in zip(sqlite, postgres) { #expect(b.map { $0 ?? "∅" } == a) }

        // The comments analysts' tools show: a view, a table, a column.
        func comment(_ sql: String) throws -> String? { try connection.query(sql).scalar }
        func description(_ object: String, _ column: String = "") throws -> String? {
            try box.query(
                "SELECT description FROM podpipe_catalog WHERE object_name = '\(object)' AND column_name = '\(column)'",
                as: String.self)
        }
        #expect(
            try comment("SELECT obj_description('fact_user_interactions'::regclass, 'pg_class')")
                == description("fact_user_interactions"))
        #expect(
            try comment("SELECT obj_description('silver_event'::regclass, 'pg_class')")
                == description("silver_event"))
        #expect(
            try comment(
                "SELECT col_description('dim_users'::regclass, (SELECT attnum FROM pg_attribute WHERE attrelid = 'dim_users'::regclass AND attname = 'country'))"
            )
                == description("dim_users", "country"))
        #expect(try description("dim_users", "country") != nil)

        // Installed once; written again after a migration (a replaced view loses its comment).
        #expect(try PostgresCatalog.install(connection) == false)
        try connection.execute("COMMENT ON VIEW dim_users IS NULL")
        #expect(try PostgresCatalog.install(connection, force: true))
        #expect(
            try comment("SELECT obj_description('dim_users'::regclass, 'pg_class')")
                == description("dim_users"))

        // A second writer's open finds it installed and writes nothing.
        let again = try Binaries.run(
            "podpiped", ["--data-load", box.dataLoad, "--database", server.uri, "--once"], timeout: 300)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try connection.query("SELECT count(*) FROM podpipe_catalog").scalar == String(sqlite.count))
    }

    @Test func validateSaysWhatSQLiteSaysAndWritesNothing() throws {
        let box = try Sandbox()
        let manifest = try SampleDataGenerator.write(Self.spec, to: box.dataLoad)
        let server = try PostgresServer()
        defer { server.stop() }
        try Self.loadBoth(box, server)

        // Files as they would arrive: new events with faults and events already in silver,
        // a copy of a loaded file under a new name, a file already in the ledger, the same
        // new bytes twice, a reference update, an ignored name.
        let staging = box.root.appendingPathComponent("staging").path
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        let known = try box.rows(
            "SELECT raw FROM bronze_event WHERE outcome = 'silver' ORDER BY bronze_id LIMIT 5"
        ).compactMap { $0["raw"] as String? }
        let fresh = [
            #"{"event_type": "play", "user_id": "user_1", "episode_id": "ep_1", "timestamp": "2024-02-01T10:00:00Z", "duration": 120}"#,
            #"{"event_type": "download", "user_id": "user_2", "episode_id": "ep_1", "timestamp": "2024-02-01T11:00:00Z"}"#,
            #"{"event_type": "play", "user_id": null"#,
            #"{"event_type": "pause", "user_id": "user_2", "episode_id": "ep_2", "timestamp": "not-a-date"}"#,
            #"{"event_type": "play", "user_id": "user_1", "episode_id": "ep_1", "timestamp": "2024-02-01T10:00:00Z", "duration": 999}"#,
        ]
        func write(_ name: String, _ text: String, mtime: TimeInterval) throws -> String {
            let path = staging + "/" + name
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            try box.setMtime(path, mtime)
            return path
        }
        let now = Date().timeIntervalSince1970
        var paths: [String] = []
        paths.append(try write("late.ndjson", (fresh + known).joined(separator: "\n") + "\n", mtime: now + 1))
        paths.append(
            try write("late-copy.ndjson", (fresh + known).joined(separator: "\n") + "\n", mtime: now + 2))
        let loaded = try #require(
            manifest.fileDetails.first { $0.kind == "events" && $0.expectedState == "loaded" })
        let copy = staging + "/renamed-" + loaded.name
        try FileManager.default.copyItem(atPath: box.dataLoad + "/" + loaded.name, toPath: copy)
        paths.append(copy)
        paths.append(box.dataLoad + "/" + loaded.name)
        let user = try #require(
            try box.query("SELECT user_id FROM silver_user ORDER BY user_id LIMIT 1", as: String.self))
        paths.append(
            try write(
                "users-update.csv",
                "user_id,signup_date,country\n\(user),2023-05-01,ZZ\nnew_user,2023-06-01,DE\nbad,,\n",
                mtime: now + 3))
        paths.append(try write("notes.txt", "not an input\n", mtime: now + 4))

        // The same data: the ledger's times are those of two runs; PostgreSQL's take SQLite's
        // (validate quotes them for a file already loaded).
        let connection = try PostgresConnection(uri: server.uri)
        for row in try box.rows("SELECT name, sha256, started_at, finished_at FROM ingest_file") {
            try connection.query(
                "UPDATE ingest_file SET started_at = $3, finished_at = $4 WHERE name = $1 AND sha256 = $2",
                [row["name"], row["sha256"], row["started_at"], row["finished_at"]])
        }
        let tables = [
            "ingest_file", "bronze_event", "bronze_reference", "silver_event", "silver_user",
            "silver_episode",
            "pipeline_state", "gold_reference_change", "gold_agg_day",
        ]
        func counts() throws -> [String] {
            try tables.map { try connection.query("SELECT count(*) FROM \($0)").scalar ?? "" }
        }
        let before = try counts()
        let sqliteBefore = try sha256(ofFile: box.database)
        for flags in [["--json"], [], ["--rows", "2", "--json"]] {
            let sqlite = try box.ctl(["validate"] + flags + paths)
            let postgres = try Self.ctl(server, box, ["validate"] + flags + paths)
            #expect(sqlite.status == 1 && postgres.status == 1, "\(sqlite.stderr) \(postgres.stderr)")
            if flags.contains("--json") {
                var a = try #require(try jsonValue(sqlite.stdout) as? [String: Any])
                var b = try #require(try jsonValue(postgres.stdout) as? [String: Any])
                #expect(a.removeValue(forKey: "database") as? String == box.database)
                #expect((b.removeValue(forKey: "database") as? String)?.hasPrefix("postgresql://") == true)
                #expect(
                    try JSONSerialization.data(withJSONObject: b, options: [.sortedKeys])
                        == JSONSerialization.data(withJSONObject: a, options: [.sortedKeys]))
                let files = try #require(a["files"] as? [[String: Any]])
                let outcomes = files.compactMap { $0["outcome"] as? String }
                for outcome in ["loaded", "duplicate", "unchanged", "ignored"] {
                    #expect(outcomes.contains(outcome), "\(outcomes)")
                }
                #expect(files.contains { ($0["rows_duplicate"] as? Int ?? 0) >= known.count })
                #expect(
                    files.contains {
                        $0["reference_added"] as? Int == 1 && $0["reference_changed"] as? Int == 1
                    })
            } else {
                let compared = { (text: String) in
                    text.components(separatedBy: " (compared with ").first ?? text
                }
                #expect(compared(postgres.stdout) == compared(sqlite.stdout))
                #expect(postgres.stdout.contains("nothing was written"))
            }
        }
        #expect(try counts() == before)
        #expect(try sha256(ofFile: box.database) == sqliteBefore)
    }

    /// validate and export against a server that does not answer: the database error, the
    /// URI without its password, nothing refused as "not yet".
    @Test func anUnreachableServerIsADatabaseErrorWithoutThePassword() throws {
        let box = try Sandbox()
        try box.drop("a.ndjson", "{}\n")
        let uri = "postgresql://podpipe:s3cret@127.0.0.1:1/db?connect_timeout=2"
        for command in [["validate", box.dataLoad + "/a.ndjson"], ["export", "dim_users"]] {
            let result = try Binaries.run(
                "podpipectl",
                [command[0], "--database", uri, "--data-load", box.dataLoad] + command.dropFirst())
            #expect(result.status == PodpipeExit.databaseError, "\(command): \(result.stderr)")
            #expect(!result.stderr.contains("s3cret"))
            #expect(!result.stderr.contains("not yet on PostgreSQL"))
        }
    }
}
