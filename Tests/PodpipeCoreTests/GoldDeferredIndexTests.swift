import Foundation
import GRDB
import Testing

@testable import PodpipeCore

/// The full rebuild drops the aggregates' secondary indexes and creates them again at the end
/// (GoldFullRebuild.deferredIndexes): afterwards each must exist with its own definition and
/// hold exactly the rows it covers; a rebuild that is rolled back must leave it as it was.
@Suite("gold: indexes deferred during the full rebuild")
struct GoldDeferredIndexTests {
    @Test func theRebuildLeavesEachDeferredIndexDefinedAsBeforeAndComplete() throws {
        let root = try TemporaryFolder("gold-index")
        defer { root.remove() }
        let store = try root.store()
        let definitionSQL = "SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?"
        try store.pool.write { db in
            for line in 0..<200 {
                let type = ["play", "pause", "complete", "complete"][line % 4]
                try db.execute(
                    sql: """
                        INSERT INTO silver_event (ts, user_id, episode_id, event_type, duration, file_id, line_no)
                        VALUES (?, ?, ?, ?, ?, 1, ?)
                        """,
                    arguments: [
                        1_709_280_000 + line * 600, "u\(line % 7)", "ep_\(line % 11)", type,
                        type == "pause" ? nil : 30 + line, line,
                    ])
            }
        }
        #expect(!GoldFullRebuild.deferredIndexes.isEmpty)
        for name in GoldFullRebuild.deferredIndexes {
            let before = try store.pool.read {
                try String.fetchOne($0, sql: definitionSQL, arguments: [name])
            }
            #expect(before != nil, "\(name) is not in the schema")

            // Rolled back: the index is still there.
            try store.pool.write { db in
                try db.inSavepoint {
                    _ = try GoldRefresher().refresh(db, now: Date(), forceFull: true)
                    return .rollback
                }
                #expect(try String.fetchOne(db, sql: definitionSQL, arguments: [name]) == before)
            }
            // Committed: the same definition, and every covered row in it.
            try store.pool.write { db in
                _ = try GoldRefresher(scanReader: store.pool).refresh(db, now: Date(), forceFull: true)
            }
            try store.pool.read { (db: Database) throws in
                #expect(try String.fetchOne(db, sql: definitionSQL, arguments: [name]) == before)
                #expect(try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok")
            }
        }
        // The one deferred index today: pairs with completions, by episode.
        try store.pool.read { (db: Database) throws in
            let viaIndex = try Int.fetchOne(
                db,
                sql: """
                    SELECT count(*) FROM gold_agg_user_episode INDEXED BY gold_agg_user_episode_completed
                    WHERE completions > 0 AND episode_id >= ''
                    """)
            let viaTable = try Int.fetchOne(
                db, sql: "SELECT count(*) FROM gold_agg_user_episode NOT INDEXED WHERE completions > 0")
            #expect(viaTable ?? 0 > 0)
            #expect(viaIndex == viaTable)
        }
    }
}
