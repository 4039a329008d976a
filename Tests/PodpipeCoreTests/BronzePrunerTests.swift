import Foundation
import GRDB
import Logging
import Testing

@testable import PodpipeCore

@Suite("prune: bronze of valid lines deleted in batches (BronzePruner)")
struct BronzePrunerTests {
    /// Two event files with valid, duplicate and rejected lines, loaded.
    static func loaded(_ root: TemporaryFolder) throws -> TestWriter {
        let folder = try root.folder("in")
        func line(_ user: Int, _ second: Int) -> String {
            #"{"event_type": "play", "user_id": "u\#(user)", "episode_id": "e1", "timestamp": "2024-01-01T10:00:\#(second < 10 ? "0" : "")\#(second)", "duration": 30}"#
        }
        var a = (0..<40).map { line($0, $0 % 60) }
        a.insert("not json", at: 7)
        a.insert(#"{"event_type": "play"}"#, at: 20)
        var b = (30..<60).map { line($0, $0 % 60) }  // 10 duplicates of a's keys
        b.append("{}")
        try Data((a.joined(separator: "\n") + "\n").utf8).write(
            to: URL(fileURLWithPath: folder + "/a.ndjson"))
        try Data((b.joined(separator: "\r\n") + "\r\n").utf8).write(
            to: URL(fileURLWithPath: folder + "/b.ndjson"))
        let writer = TestWriter(
            store: try root.store(), settings: PipelineSettings(dataLoad: folder),
            logger: Logger(label: "test"))
        _ = try writer.runOnce()
        return writer
    }

    static func snapshot(_ writer: TestWriter) throws -> [String] {
        try writer.store.pool.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT event_id || '|' || ts || '|' || user_id || '|' || file_id || '|' || line_no
                    FROM silver_event ORDER BY event_id
                    """)
                + String.fetchAll(
                    db,
                    sql: """
                        SELECT name || '|' || rows_loaded || '|' || rows_rejected || '|' || rows_duplicate
                        FROM ingest_file ORDER BY file_id
                        """)
        }
    }

    @Test func onlyValidLinesGoAndRevalidateKeepsTheirSilverRows() throws {
        let root = try TemporaryFolder("prune")
        defer { root.remove() }
        let writer = try Self.loaded(root)
        let before = try Self.snapshot(writer)
        let gold = try writer.store.pool.read { db in
            try String.fetchAll(
                db, sql: "SELECT user_id || listened FROM gold_agg_day_user_episode ORDER BY 1")
        }
        #expect(
            try writer.store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM bronze_event")
            } == 73)

        // Small batches: a stop after two of them leaves the first file marked, half done.
        var pruner = BronzePruner(loadedBefore: "9999-12-31T00:00:00Z")
        pruner.window = 10
        for _ in 0..<2 { try writer.store.pool.write { db in try pruner.step(db, now: Date()) } }
        #expect(!pruner.done)
        let marked = try writer.store.pool.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM ingest_file WHERE bronze_pruned_at IS NOT NULL")
        }
        #expect(marked == ["a.ndjson"])
        // A new prune (a restart) finishes the job.
        var again = BronzePruner(loadedBefore: "9999-12-31T00:00:00Z")
        again.window = 10
        try again.run(on: writer.session, now: Date(), budget: nil)
        #expect(again.done)
        #expect(pruner.tally.rowsDeleted + again.tally.rowsDeleted == 70)
        let left = try writer.store.pool.read { db in
            try String.fetchAll(db, sql: "SELECT outcome FROM bronze_event ORDER BY bronze_id")
        }
        #expect(left == ["rejected", "rejected", "rejected"])
        #expect(try Self.snapshot(writer) == before)

        // revalidate cannot see the pruned lines: their silver rows stay as they were.
        let summary = try Revalidator().run(writer.session, dryRun: false)
        #expect(summary.keptPruned == 60)
        #expect(summary.eventsRemoved == 0 && summary.eventsAdded == 0 && summary.eventsChanged == 0)
        #expect(try Self.snapshot(writer) == before)
        #expect(
            try writer.store.pool.read { db in
                try String.fetchAll(
                    db, sql: "SELECT user_id || listened FROM gold_agg_day_user_episode ORDER BY 1")
            } == gold)
    }

    @Test func filesLoadedAfterTheDateAreLeftAlone() throws {
        let root = try TemporaryFolder("prune")
        defer { root.remove() }
        let writer = try Self.loaded(root)
        let result = try MaintenanceCommand.prune(loadedBefore: "2000-01-01T00:00:00Z").run(
            on: writer.session)
        #expect(result.exitCode == 0)
        #expect(result.json.contains("\"rows_deleted\" : 0"), "\(result.json)")
        #expect(
            try writer.store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM bronze_event")
            } == 73)
    }
}
