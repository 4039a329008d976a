import Foundation
import GRDB
import Testing

@testable import PodpipeCore

/// The full rebuild reads silver in one sequential pass of the table (rowid order) when the
/// rowids follow time, and in time order through the natural-key index when they do not (each
/// file spanning the same months): its spills then append to the (day, …) tables instead of
/// rewriting the days already written (doc/performance.md). Its in-range condition on `ts`
/// alone would let SQLite choose the index in both cases.
@Suite("gold: the full rebuild's scan of silver")
struct GoldScanPlanTests {
    /// The query plan of the scan chosen for silver rows with these timestamps, in this
    /// (event_id) order.
    func plan(_ timestamps: [Int64]) throws -> [String] {
        let root = try TemporaryFolder("gold-scan-plan")
        defer { root.remove() }
        let store = try root.store()
        return try store.pool.write { db in
            for (line, ts) in timestamps.enumerated() {
                try db.execute(
                    sql: """
                        INSERT INTO silver_event (ts, user_id, episode_id, event_type, duration, file_id, line_no)
                        VALUES (?, 'u1', 'ep_1', 'play', 30, 1, ?)
                        """,
                    arguments: [ts, line + 1])
            }
            let sql = try GoldFullRebuild.silverScanSQL(db)
            return try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql).map { $0["detail"] as String }
        }
    }

    @Test func silverInTimeOrderIsReadAsTheTableIs() throws {
        let start: Int64 = 1_709_280_000
        #expect(try plan((0..<500).map { start + $0 * 60 }) == ["SCAN silver_event"])
        // A later file spanning the same months: one step back in the samples, still one read.
        let late = (0..<450).map { start + $0 * 60 } + (0..<50).map { start + 1 + $0 * 540 }
        #expect(try plan(late) == ["SCAN silver_event"])
        #expect(try plan([]) == ["SCAN silver_event"])
    }

    @Test func silverWhoseFilesEachSpanTheMonthsIsReadInTimeOrder() throws {
        let start: Int64 = 1_709_280_000
        // Ten files, each in time order over the same span (sorted runs, issue 15).
        let files = (0..<10).flatMap { file in (0..<50).map { start + Int64(file) + $0 * 3_600 } }
        let plan = try plan(files)
        #expect(plan.count == 1 && plan[0].contains("USING INDEX silver_event_natural_key"), "\(plan)")
    }
}
