import Foundation
import PodpipeSampleData
import Testing

// `podpipectl reprocess`, `revalidate`, `refresh` against the real binaries, on databases
// built by the real `podpiped --once`.

@Suite("podpipectl reprocess")
struct CtlReprocessTests {
    @Test func reprocessThenOncePassGivesTheSameSilverAndGold() throws {
        let box = try Sandbox()
        let manifest = try box.loadSample()
        let silver = try box.silverSnapshot()
        let gold = try box.goldSnapshot()
        let reports = try box.reportSnapshot()
        let generation = try box.pipelineState("silver.generation")
        // A middle event file with rejects and duplicates, and the last episodes file.
        let events = try #require(
            manifest.fileDetails.first { $0.kind == "events" && $0.duplicates > 0 && $0.rejected > 0 })
        let episodes = try #require(manifest.fileDetails.last { $0.kind == "episodes" })
        let eventsId = try #require(
            try box.query("SELECT file_id FROM ingest_file WHERE name = '\(events.name)'", as: Int64.self))

        let run = try box.ctl(["reprocess", events.name, episodes.name])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("forgot:"))
        #expect(run.stdout.contains("\(events.name) (file \(eventsId), events, loaded"))
        #expect(run.stdout.contains("\(events.rows) bronze rows, \(events.loaded) silver events"))
        // Gone: the ledger rows and every row they contributed.
        #expect(
            try box.query(
                "SELECT count(*) FROM ingest_file WHERE name IN ('\(events.name)', '\(episodes.name)')") == 0)
        #expect(try box.query("SELECT count(*) FROM bronze_event WHERE file_id = \(eventsId)") == 0)
        #expect(try box.query("SELECT count(*) FROM silver_event WHERE file_id = \(eventsId)") == 0)
        #expect(
            try box.query("SELECT count(*) FROM silver_event")
                == manifest.expectedSilverEvents - events.loaded)
        #expect(try box.pipelineState("silver.generation") != generation)
        // Status sees the files waiting again.
        let status = try box.ctl(["status", "--json"])
        let files = (try jsonValue(status.stdout) as? [String: Any])?["files"] as? [String: Any]
        #expect(files?["pending"] as? Int == 2)

        let again = try box.podpiped()
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try box.silverSnapshot() == silver)
        #expect(try box.goldSnapshot() == gold)
        #expect(try box.reportSnapshot() == reports)
        let ledger = try #require(
            try box.rows("SELECT * FROM ingest_file WHERE name = '\(events.name)'").first)
        #expect(ledger["rows_loaded"] == events.loaded)
        #expect(ledger["rows_rejected"] == events.rejected)
        #expect(ledger["rows_duplicate"] == events.duplicates)
        // The reloaded file keeps its place in the load order: revalidating changes nothing.
        let revalidate = try box.ctl(["revalidate", "--json"])
        let summary = try #require(try jsonValue(revalidate.stdout) as? [String: Any], "\(revalidate.stderr)")
        #expect(summary["events_added"] as? Int == 0)
        #expect(summary["events_removed"] as? Int == 0)
        #expect(summary["events_changed"] as? Int == 0)
        #expect(try box.silverSnapshot() == silver)
    }

    @Test func dryRunWritesNothingAndUnknownNamesAreRefused() throws {
        let box = try Sandbox()
        let manifest = try box.loadSample()
        let file = try #require(manifest.fileDetails.first { $0.kind == "events" })
        let before = try sha256(ofFile: box.database)
        let dry = try box.ctl(["reprocess", file.name, "--dry-run", "--json"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(try sha256(ofFile: box.database) == before)
        let plan = try #require(try jsonValue(dry.stdout) as? [String: Any])
        #expect(plan["dry_run"] as? Bool == true)
        let items = try #require(plan["items"] as? [[String: Any]])
        #expect(items.count == 1)
        #expect(items.first?["name"] as? String == file.name)
        #expect(items.first?["silver_rows"] as? Int == file.loaded)
        #expect(items.first?["bronze_rows"] as? Int == file.rows)

        let unknown = try box.ctl(["reprocess", "nope.ndjson", file.name])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("not in the ledger: nope.ndjson"))
        #expect(try sha256(ofFile: box.database) == before)  // nothing forgotten
    }

    @Test func handedToTheDaemonWhileItRunsAndReadersWork() throws {
        let box = try Sandbox()
        let manifest = try box.loadSample()
        let daemon = try RunningDaemon(box)
        defer { daemon.stop() }
        let file = try #require(manifest.fileDetails.first { $0.kind == "events" })
        // Writers are handed to the daemon (DaemonRefreshTests has the details).
        let revalidate = try box.ctl(["revalidate", "--dry-run"])
        #expect(revalidate.status == 0, "\(revalidate.stderr)")
        let refresh = try box.ctl(["refresh"])
        #expect(refresh.status == 0, "\(refresh.stderr)")
        #expect(refresh.stdout.contains("gold"))

        // Readers (WAL) work while the daemon holds the database, and never take the lock.
        try box.drop(
            "late.ndjson",
            #"{"event_type": "play", "user_id": "u1", "episode_id": "e1", "timestamp": "2024-01-02T10:00:00", "duration": 5}"#
                + "\n")
        for args in [
            ["status", "--json"], ["files"], ["rejects", "--summary"], ["report", "top-episodes"],
            ["reprocess", file.name, "--dry-run"],
        ] {
            let reader = try box.ctl(args)
            #expect(
                reader.status == 0 || (args[0] == "status" && reader.status == 1), "\(args): \(reader.stderr)"
            )
            #expect(!reader.stdout.isEmpty)
        }
        let status = try box.ctl(["status", "--json"])
        let daemonState = ((try jsonValue(status.stdout) as? [String: Any])?["daemon"] as? [String: Any])?[
            "state"]
        #expect(daemonState as? String == "running")
        // The daemon picks the new file up while we read.
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline,
            (try box.query("SELECT count(*) FROM ingest_file WHERE name = 'late.ndjson'") ?? 0) == 0
        {
            _ = try box.ctl(["files", "--format", "csv"])
            usleep(100_000)
        }
        let files = try box.ctl(["files", "--format", "csv"])
        #expect(files.stdout.contains("late.ndjson"))
    }
}

@Suite("podpipectl revalidate")
struct CtlRevalidateTests {
    @Test func unchangedRulesChangeNothingAndKeepEventIds() throws {
        let box = try Sandbox()
        _ = try box.loadSample(ctlSpec(edgeCases: true))
        let silver = try box.silverSnapshot()
        let ids = try box.rows("SELECT event_id, file_id, line_no FROM silver_event ORDER BY event_id").map {
            "\($0["event_id"] as Int64? ?? 0)|\($0["file_id"] as Int64? ?? 0)|\($0["line_no"] as Int64? ?? 0)"
        }
        let bronze = try box.rows(
            "SELECT bronze_id, outcome, error_codes FROM bronze_event ORDER BY bronze_id"
        )
        .map { $0.description }
        let ledger = try box.rows("SELECT * FROM ingest_file ORDER BY file_id").map { $0.description }
        let reports = try box.reportSnapshot()
        let run = try box.ctl(["revalidate", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try #require(try jsonValue(run.stdout) as? [String: Any])
        #expect(summary["events_added"] as? Int == 0)
        #expect(summary["events_removed"] as? Int == 0)
        #expect(summary["events_changed"] as? Int == 0)
        #expect(summary["bronze_event_rows_changed"] as? Int == 0)
        #expect(summary["files"] as? [Any] != nil)
        #expect((summary["files"] as? [Any])?.isEmpty == true)
        #expect(summary["gold_mode"] as? String == "full")
        #expect(try box.silverSnapshot() == silver)
        #expect(
            try box.rows("SELECT event_id, file_id, line_no FROM silver_event ORDER BY event_id").map {
                "\($0["event_id"] as Int64? ?? 0)|\($0["file_id"] as Int64? ?? 0)|\($0["line_no"] as Int64? ?? 0)"
            } == ids)
        #expect(
            try box.rows("SELECT bronze_id, outcome, error_codes FROM bronze_event ORDER BY bronze_id").map {
                $0.description
            } == bronze)
        #expect(try box.rows("SELECT * FROM ingest_file ORDER BY file_id").map { $0.description } == ledger)
        #expect(try box.reportSnapshot() == reports)
    }

    @Test func aWiderFutureSkewLetsFutureEventsIn() throws {
        let box = try Sandbox()
        let manifest = try box.loadSample()
        let future = try #require(manifest.expectedCodeCounts["timestamp_in_future"])
        try #require(future > 0)
        // Rows whose only code is timestamp_in_future become valid with a 200-year skew.
        let onlyFuture = try #require(
            try box.query("SELECT count(*) FROM bronze_event WHERE error_codes = 'timestamp_in_future'"))
        let silverBefore = try #require(try box.query("SELECT count(*) FROM silver_event"))
        let env = ["PODPIPE_VALIDATION_FUTURE_SKEW": "6311520000"]

        let dry = try box.ctl(["revalidate", "--dry-run", "--json"], env: env)
        #expect(dry.status == 0, "\(dry.stderr)")
        let preview = try #require(try jsonValue(dry.stdout) as? [String: Any])
        #expect(preview["dry_run"] as? Bool == true)
        #expect(try box.query("SELECT count(*) FROM silver_event") == silverBefore)  // rolled back

        let run = try box.ctl(["revalidate", "--json"], env: env)
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try #require(try jsonValue(run.stdout) as? [String: Any])
        #expect(summary["events_added"] as? Int == preview["events_added"] as? Int)
        let added = try #require(summary["events_added"] as? Int)
        #expect(added > 0 && added <= onlyFuture)
        #expect(summary["events_removed"] as? Int == 0)
        #expect((summary["codes_after"] as? [String: Int])?["timestamp_in_future"] == nil)
        #expect(try box.query("SELECT count(*) FROM silver_event") == silverBefore + added)
        #expect(
            try box.query("SELECT count(*) FROM bronze_event WHERE error_codes LIKE '%timestamp_in_future%'")
                == 0)
        // The ledger still adds up, per file and in total.
        #expect(
            try box.query(
                "SELECT count(*) FROM ingest_file WHERE rows_read <> rows_loaded + rows_rejected + rows_duplicate"
            ) == 0)
        #expect(
            try box.query("SELECT sum(rows_loaded) FROM ingest_file WHERE kind = 'events'") == silverBefore
                + added)
        for state in ["silver", "rejected", "duplicate"] {
            let ledgerColumn =
                ["silver": "rows_loaded", "rejected": "rows_rejected", "duplicate": "rows_duplicate"][state]
                ?? ""
            #expect(
                try box.query("SELECT count(*) FROM bronze_event WHERE outcome = '\(state)'")
                    == box.query("SELECT sum(\(ledgerColumn)) FROM ingest_file WHERE kind = 'events'"))
        }
        // Gold was rebuilt with them: daily activity counts every silver event.
        let daily = try box.ctl(["report", "daily-activity", "--format", "json"])
        let days = try #require(try jsonValue(daily.stdout) as? [[String: Any]])
        let total = days.reduce(0) { $0 + ($1["events"] as? Int ?? 0) }
        #expect(total == silverBefore + added)
        let status = try box.ctl(["status", "--json"])
        let gold = (try jsonValue(status.stdout) as? [String: Any])?["gold"] as? [String: Any]
        #expect(gold?["stale"] as? Bool == false)
    }

    @Test func silverLostByAccidentComesBackFromBronze() throws {
        let box = try Sandbox()
        _ = try box.loadSample()
        let silver = try box.silverSnapshot()
        let db = try GRDBWriter(box.database)
        try db.execute("DELETE FROM silver_event WHERE event_id % 10 = 0")
        try db.execute(
            "UPDATE silver_event SET duration = 1 WHERE event_id % 10 = 1 AND duration IS NOT NULL")
        try db.execute("DELETE FROM silver_user WHERE user_id = 'user_1'")
        let run = try box.ctl(["revalidate"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains(" added"))
        #expect(try box.silverSnapshot() == silver)
    }
}

@Suite("podpipectl refresh")
struct CtlRefreshTests {
    @Test func refreshesStaleGoldAndSaysWhenThereIsNothingToDo() throws {
        let box = try Sandbox()
        let manifest = try box.loadSample()
        let upToDate = try box.ctl(["refresh"])
        #expect(upToDate.status == 0, "\(upToDate.stderr)")
        #expect(upToDate.stdout.contains("gold is up to date"))

        // Forgetting a file makes gold stale (silver.generation moved).
        let file = try #require(manifest.fileDetails.first { $0.kind == "events" })
        #expect(try box.ctl(["reprocess", file.name]).status == 0)
        #expect(try box.ctl(["status"]).status == 1)
        let run = try box.ctl(["refresh", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try #require(try jsonValue(run.stdout) as? [String: Any])
        #expect(summary["mode"] as? String == "full")
        #expect(summary["new_events"] as? Int == manifest.expectedSilverEvents - file.loaded)
        let status = try box.ctl(["status", "--json"])
        let gold = (try jsonValue(status.stdout) as? [String: Any])?["gold"] as? [String: Any]
        #expect(gold?["stale"] as? Bool == false)
        let full = try box.ctl(["refresh", "--full"])
        #expect(full.stdout.contains("gold refreshed (full)"))
    }

    @Test func aMissingDatabaseIsNotCreated() throws {
        let box = try Sandbox()
        for args in [["refresh"], ["reprocess", "a.ndjson"], ["revalidate"], ["files"], ["rejects"]] {
            let run = try box.ctl(args)
            #expect(run.status == 70, "\(args)")
            #expect(run.stderr.contains("does not exist: run `podpiped --once`"), "\(args)")
        }
        #expect(!FileManager.default.fileExists(atPath: box.database))
    }
}
