import Foundation
import GRDB
import Logging
import Testing

@testable import PodpipeCore

/// Reference CSVs upsert into silver by id (SPEC §2.2): a later record of the same id wins,
/// within one file (line order) and across files (processing order). The loader stages a
/// file's valid rows and upserts them in one statement; these pin the order it must keep.
@Suite("reference files: the latest record of an id wins")
struct ReferenceLoadTests {
    @Test func laterRecordsWinWithinAFileAndAcrossFiles() throws {
        let root = try TemporaryFolder("reference")
        defer { root.remove() }
        let folder = try root.folder("in")
        func write(_ name: String, _ text: String, modified: TimeInterval) throws {
            let path = folder + "/" + name
            #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSince1970: modified)], ofItemAtPath: path)
        }
        try write(
            "users-1.csv",
            "user_id,signup_date,country\nu1,2024-01-01,DE\nu2,2024-01-02,DE\nu1,2024-01-03,FR\n,2024-01-04,XX\nu3,2024-01-05,IT\nu1,2024-01-06,\n",
            modified: 1_700_000_000)
        try write(
            "episodes-1.csv",
            "episode_id,podcast_id,title,release_date,duration_seconds\ne1,p,First,2024-01-01,100\ne1,p,Second,2024-01-02,200\ne2,p,Other,2024-01-03,300\n",
            modified: 1_700_000_001)
        let store = try root.store()
        let pipeline = TestWriter(
            store: store, settings: PipelineSettings(dataLoad: folder), logger: Logger(label: "test"))
        let first = try pipeline.runOnce(refreshGold: true)
        #expect(first.outcomes.map(\.state) == [.loaded, .loaded])
        #expect(first.outcomes.map(\.rowsLoaded) == [4, 3])
        #expect(first.outcomes.map(\.rowsRejected) == [2, 0])

        func users() throws -> [String] {
            try store.pool.read { db in
                try String.fetchAll(
                    db,
                    sql:
                        "SELECT user_id || ' ' || signup_date || ' ' || country || ' ' || line_no FROM silver_user ORDER BY user_id"
                )
            }
        }
        // u1: line 4 (FR) wins over line 2; line 7 (no country) is rejected, not applied.
        #expect(try users() == ["u1 2024-01-03 FR 4", "u2 2024-01-02 DE 3", "u3 2024-01-05 IT 6"])
        let episodes = try store.pool.read { db in
            try String.fetchAll(
                db,
                sql:
                    "SELECT episode_id || ' ' || title || ' ' || duration_seconds FROM silver_episode ORDER BY 1"
            )
        }
        #expect(episodes == ["e1 Second 200", "e2 Other 300"])
        // Bronze keeps every record, in line order, with its outcome.
        let bronze = try store.pool.read { db in
            try String.fetchAll(
                db,
                sql:
                    "SELECT line_no || ' ' || outcome FROM bronze_reference WHERE kind = 'users' ORDER BY bronze_id"
            )
        }
        #expect(bronze == ["2 silver", "3 silver", "4 silver", "5 rejected", "6 silver", "7 rejected"])

        // A later file wins over the earlier one; gold's reference snapshot follows.
        try write("users-2.csv", "user_id,signup_date,country\nu2,2024-02-01,US\n", modified: 1_700_000_100)
        let second = try pipeline.runOnce(refreshGold: true)
        #expect(second.outcomes.map(\.state) == [.loaded])
        #expect(try users() == ["u1 2024-01-03 FR 4", "u2 2024-02-01 US 2", "u3 2024-01-05 IT 6"])
        let snapshot = try store.pool.read { db in
            try String.fetchAll(
                db, sql: "SELECT user_id || ' ' || country FROM gold_ref_user ORDER BY user_id")
        }
        #expect(snapshot == ["u1 FR", "u2 US", "u3 IT"])
    }
}
