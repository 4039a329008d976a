import Foundation
import PodpipeSampleData
import Testing

@testable import PodpipeCore

/// `podpipectl refresh`, `reprocess`, `revalidate` and `prune` on PostgreSQL (issue 18) with
/// the real binaries against a real server: the same sequence on SQLite and on PostgreSQL
/// (generated data with every fault kind, the command, a pass) gives the same ledger, bronze
/// and silver rows, the same reports and the same command output (but for times and ids);
/// and a command run beside a daemon loading another folder into the same server loses and
/// doubles nothing.
@Suite("PostgreSQL maintenance commands: podpipectl against a real server", .serialized)
struct PostgresMaintenanceTests {
    /// A folder of generated data loaded by `podpiped --once` into SQLite and into a
    /// throwaway server.
    final class Both {
        let box: Sandbox
        let server: PostgresServer
        let manifest: SampleDataManifest

        init(spec: SampleDataSpec = ctlSpec(edgeCases: true)) throws {
            box = try Sandbox()
            server = try PostgresServer()
            manifest = try SampleDataGenerator.write(spec, to: box.dataLoad)
            try pass()
        }

        deinit { server.stop() }

        /// `podpiped --once` on both databases.
        func pass() throws {
            let sqlite = try box.podpiped()
            #expect(sqlite.status == 0, "\(sqlite.stderr)")
            let postgres = try PostgresIngestTests.once(box.dataLoad, server.uri)
            #expect(postgres.status == 0, "\(postgres.stderr)")
        }

        /// `podpipectl ARGS` on SQLite and on PostgreSQL.
        func ctl(_ args: [String], env: [String: String] = [:]) throws -> (
            sqlite: ProcessResult, postgres: ProcessResult
        ) {
            let sqlite = try box.ctl(args, env: env)
            let postgres = try Binaries.run(
                "podpipectl",
                [args[0], "--database", server.uri, "--data-load", box.dataLoad] + args.dropFirst(), env: env)
            return (sqlite, postgres)
        }

        /// The command's output on both, equal but for times and ids; returns PostgreSQL's.
        @discardableResult
        func expectSameOutput(_ args: [String], env: [String: String] = [:]) throws -> ProcessResult {
            let (sqlite, postgres) = try ctl(args, env: env)
            #expect(sqlite.status == 0, "SQLite \(args): \(sqlite.stderr)")
            #expect(postgres.status == 0, "PostgreSQL \(args): \(postgres.stderr)")
            #expect(
                PostgresMaintenanceTests.timeless(postgres.stdout)
                    == PostgresMaintenanceTests.timeless(sqlite.stdout), "\(args)")
            return postgres
        }

        /// The ledger, bronze and silver rows and every report (CSV) are the same.
        func expectSameRowsAndReports() throws {
            PostgresIngestTests.expectSame(
                try PostgresIngestTests.dump(sqlite: box.database),
                try PostgresIngestTests.dump(postgres: server.uri))
            for args in Self.reports {
                let (sqlite, postgres) = try ctl(["report"] + args + ["--format", "csv"])
                #expect(sqlite.status == 0 && postgres.status == 0, "\(sqlite.stderr) \(postgres.stderr)")
                #expect(postgres.stdout == sqlite.stdout, "report \(args)")
            }
        }

        static let reports: [[String]] =
            ReportKind.allCases.map { [$0.rawValue] } + [["multi-episode-users", "--by-day"]]

        func postgres(_ sql: String) throws -> String? {
            try PostgresConnection(uri: server.uri).query(sql).scalar
        }
    }

    /// Output without what differs between two runs or engines by nature: instants,
    /// durations, file and event ids (PostgreSQL's identities skip values).
    static func timeless(_ text: String) -> String {
        let patterns = [
            (#"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"#, "T"),
            (#"\d+ ms"#, "N ms"),
            (#""(duration_ms|gold_duration_ms|file_id|watermark_event_id)" ?: \d+"#, "\"$1\": N"),
            (#"file \d+"#, "file N"),
        ]
        var result = text
        for (pattern, template) in patterns {
            result = result.replacingOccurrences(of: pattern, with: template, options: .regularExpression)
        }
        return result
    }

    @Test func reprocessGivesSQLitesRowsAndOutputAndAPassLoadsTheFilesOnce() throws {
        let both = try Both()
        let events = try #require(
            both.manifest.fileDetails.first { $0.kind == "events" && $0.duplicates > 0 && $0.rejected > 0 })
        let episodes = try #require(both.manifest.fileDetails.last { $0.kind == "episodes" })
        let before = try PostgresIngestTests.dump(postgres: both.server.uri)

        // The plan (dry run) writes nothing; unknown names are refused with suggestions.
        try both.expectSameOutput(["reprocess", "--dry-run", events.name, episodes.name])
        try both.expectSameOutput(["reprocess", "--dry-run", "--json", events.name])
        #expect(try PostgresIngestTests.dump(postgres: both.server.uri) == before)
        let (sqliteUnknown, postgresUnknown) = try both.ctl(["reprocess", "nope-" + events.name])
        #expect(postgresUnknown.status == sqliteUnknown.status && postgresUnknown.status != 0)
        #expect(postgresUnknown.stderr == sqliteUnknown.stderr, "\(postgresUnknown.stderr)")

        let generation = try both.postgres("SELECT value FROM pipeline_state WHERE key = 'silver.generation'")
        try both.expectSameOutput(["reprocess", "--json", events.name, episodes.name])
        try both.expectSameRowsAndReports()
        #expect(
            try both.postgres("SELECT count(*) FROM ingest_file WHERE name = '\(events.name)'") == "0")
        #expect(
            try both.postgres("SELECT value FROM pipeline_state WHERE key = 'silver.generation'")
                != generation)

        // The next pass loads the two files again, once each, and rebuilds gold in full.
        try both.pass()
        #expect(
            try both.postgres(
                "SELECT count(*) FROM ingest_file WHERE name IN ('\(events.name)', '\(episodes.name)') AND state = 'loaded'"
            ) == "2")
        #expect(try both.postgres("SELECT value FROM pipeline_state WHERE key = 'gold.last_mode'") == "full")
        try both.expectSameRowsAndReports()
    }

    @Test func revalidateGivesSQLitesRowsAndOutputAndItsDryRunChangesNothing() throws {
        let both = try Both()
        let env = ["PODPIPE_VALIDATION_FUTURE_SKEW": "6311520000"]
        let before = try PostgresIngestTests.dump(postgres: both.server.uri)
        let gold = try both.postgres("SELECT value FROM pipeline_state WHERE key = 'gold.refreshed_at'")

        let dry = try both.expectSameOutput(["revalidate", "--dry-run", "--json"], env: env)
        let preview = try #require(try jsonValue(dry.stdout) as? [String: Any], "\(dry.stdout)")
        #expect(preview["dry_run"] as? Bool == true)
        #expect((preview["events_added"] as? Int ?? 0) > 0)
        #expect(try PostgresIngestTests.dump(postgres: both.server.uri) == before)
        #expect(try both.postgres("SELECT value FROM pipeline_state WHERE key = 'gold.refreshed_at'") == gold)

        try both.expectSameOutput(["revalidate"], env: env)
        try both.expectSameRowsAndReports()
        #expect(
            try both.postgres(
                "SELECT count(*) FROM ingest_file WHERE rows_read <> rows_loaded + rows_rejected + rows_duplicate"
            )
                == "0")
        // Unchanged rules now: nothing more to change, on both.
        let again = try both.expectSameOutput(["revalidate", "--json"], env: env)
        let summary = try #require(try jsonValue(again.stdout) as? [String: Any])
        #expect(summary["events_added"] as? Int == 0 && summary["bronze_event_rows_changed"] as? Int == 0)
        try both.pass()
        try both.expectSameRowsAndReports()
    }

    @Test func refreshGivesSQLitesOutputCurrentFullAndAfterReprocess() throws {
        let both = try Both()
        try both.expectSameOutput(["refresh"])
        try both.expectSameOutput(["refresh", "--json"])
        let full = try both.expectSameOutput(["refresh", "--full", "--json"])
        let summary = try #require(try jsonValue(full.stdout) as? [String: Any])
        #expect(summary["mode"] as? String == "full")
        #expect(try both.postgres("SELECT value FROM pipeline_state WHERE key = 'gold.last_mode'") == "full")
        try both.expectSameRowsAndReports()
        // Silver changed without a refresh (reprocess), then `refresh`: a full rebuild on both.
        let events = try #require(both.manifest.fileDetails.first { $0.kind == "events" && $0.loaded > 0 })
        try both.expectSameOutput(["reprocess", events.name])
        let stale = try both.expectSameOutput(["refresh", "--json"])
        #expect((try jsonValue(stale.stdout) as? [String: Any])?["mode"] as? String == "full")
        try both.expectSameRowsAndReports()
        try both.pass()
        try both.expectSameRowsAndReports()
    }

    @Test func pruneGivesSQLitesRowsAndOutputAndRevalidateKeepsPrunedSilver() throws {
        let both = try Both()
        try both.expectSameOutput(["prune", "--bronze-before", "9999-12-31", "--json"])
        try both.expectSameRowsAndReports()
        #expect(try both.postgres("SELECT count(*) FROM bronze_event WHERE outcome <> 'rejected'") == "0")
        // A second prune finds nothing more; revalidate keeps the pruned files' silver.
        try both.expectSameOutput(["prune", "--bronze-before", "9999-12-31"])
        try both.expectSameOutput(["revalidate", "--json"])
        try both.expectSameRowsAndReports()
        try both.pass()
        try both.expectSameRowsAndReports()
    }

    /// Each command while a `podpiped` daemon loads another folder (another host's, as far as
    /// the server is concerned) into the same database: every command completes, and every
    /// file of both folders is in the ledger once, its rows adding up, silver what its bronze
    /// gives in load order.
    @Test func commandsBesideARunningDaemonLoseAndDoubleNothing() throws {
        let both = try Both()
        let other = try Sandbox()
        // The other folder's events have users of their own: which of two hosts' files loading
        // at the same time wins a natural key both deliver is the order of their inserts,
        // which the ledger does not record (doc/cli.md, "Maintenance on PostgreSQL").
        func otherEvents(_ file: String, lines: Int) -> String {
            (0..<lines).map {
                #"{"user_id": "u_other_\#(file)_\#($0 % 37)", "episode_id": "ep_\#($0 % 7)", "event_type": "play", "timestamp": "2024-01-\#(10 + $0 % 19)T08:\#(10 + $0 % 50):00Z"}"#
            }.joined(separator: "\n") + "\n"
        }
        for file in 0..<6 { try other.drop("other-\(file).ndjson", otherEvents("f\(file)", lines: 3000)) }
        let daemon = try DaemonProcess(
            box: other, arguments: ["--data-load", other.dataLoad, "--database", both.server.uri])
        #expect(daemon.waitReady(timeout: 60), "\(daemon.stderr)")
        let events = try #require(both.manifest.fileDetails.first { $0.kind == "events" && $0.loaded > 0 })
        // reprocess last: a file forgotten before a revalidate loses the keys it shared to the
        // files that also delivered them, and takes them back only at the next revalidate
        // (doc/cli.md, reprocess) — the same on SQLite.
        let commands: [[String]] = [
            ["refresh"], ["revalidate"], ["refresh", "--full"], ["prune", "--bronze-before", "9999-12-31"],
            ["reprocess", events.name],
        ]
        var dropped = 0
        for command in commands {
            // More files for the daemon while the command runs.
            for _ in 0..<3 {
                dropped += 1
                try other.drop("late-\(dropped).ndjson", otherEvents("late\(dropped)", lines: 200))
            }
            let run = try Binaries.run(
                "podpipectl",
                [command[0], "--database", both.server.uri, "--data-load", both.box.dataLoad]
                    + command.dropFirst())
            #expect(run.status == 0, "\(command): \(run.stderr)")
        }
        // The names each folder's ledger should hold: a SQLite load of the same folder.
        let reference = try other.podpiped()
        #expect(reference.status == 0, "\(reference.stderr)")
        let otherNames = Set(
            try other.rows("SELECT DISTINCT name FROM ingest_file").compactMap { $0["name"] as String? })
        let boxNames = Set(
            try both.box.rows("SELECT DISTINCT name FROM ingest_file").compactMap { $0["name"] as String? })
        func names(_ folder: String) throws -> Set<String> {
            Set(
                try PostgresConnection(uri: both.server.uri).query(
                    "SELECT name FROM ingest_file WHERE data_load = $1 AND state <> 'failed'", [folder]
                ).rows.compactMap { $0.first ?? nil })
        }
        // Let the daemon settle its folder, then stop it and load the reprocessed file again.
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, try names(other.dataLoad) != otherNames {
            Thread.sleep(forTimeInterval: 0.2)
        }
        #expect(daemon.stop() != nil)
        #expect(try PostgresIngestTests.once(both.box.dataLoad, both.server.uri).status == 0)

        // Every file of both folders once in the ledger.
        #expect(
            try both.postgres(
                "SELECT count(*) FROM (SELECT data_load, name FROM ingest_file GROUP BY data_load, name HAVING count(*) > 1) AS d"
            ) == "0")
        let folders = try both.postgres("SELECT string_agg(DISTINCT data_load, ' ') FROM ingest_file") ?? ""
        #expect(try names(other.dataLoad) == otherNames, "\(folders)")
        #expect(try names(both.box.dataLoad) == boxNames)
        #expect(try both.postgres("SELECT count(*) FROM ingest_file WHERE state = 'failed'") == "0")
        // Rows add up per file, bronze and silver hold each file's rows once.
        #expect(
            try both.postgres(
                "SELECT count(*) FROM ingest_file WHERE rows_read <> rows_loaded + rows_rejected + rows_duplicate"
            )
                == "0")
        #expect(
            try both.postgres(
                "SELECT count(*) FROM ingest_file AS f WHERE f.kind = 'events' AND f.state = 'loaded' AND f.bronze_pruned_at IS NULL AND f.rows_read <> (SELECT count(*) FROM bronze_event AS b WHERE b.file_id = f.file_id)"
            ) == "0")
        #expect(
            try both.postgres(
                "SELECT (SELECT count(*) FROM silver_event) = (SELECT sum(rows_loaded) FROM ingest_file WHERE kind = 'events' AND state = 'loaded')"
            ) == "t")
        // Silver is what bronze gives in load order: a revalidation would change nothing.
        let check = try Binaries.run(
            "podpipectl",
            [
                "revalidate", "--dry-run", "--json", "--database", both.server.uri, "--data-load",
                both.box.dataLoad,
            ])
        let summary = try #require(try jsonValue(check.stdout) as? [String: Any], "\(check.stderr)")
        #expect(summary["events_added"] as? Int == 0)
        #expect(summary["events_removed"] as? Int == 0)
        #expect(summary["events_changed"] as? Int == 0)
    }
}
