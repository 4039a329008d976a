import Foundation
import GRDB
import Testing

@testable import PodpipeCore

/// The full rebuild reads silver in one sequential pass of the table (rowid order), whatever
/// the order of its timestamps: its keyed aggregates go to sorted runs merged once at the end,
/// so the order of the rows no longer matters to gold's writes, and a walk of the natural-key
/// index (a random table read per row) grew faster than silver when every file spans the same
/// months (issue 15, doc/performance.md). Its in-range condition on `ts` alone would let SQLite
/// choose the index.
@Suite("gold: the full rebuild's scan of silver")
struct GoldScanPlanTests {
    /// The query plan of the rebuild's scan over silver rows with these timestamps, in this
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
            return try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + GoldFullRebuild.silverScanSQL)
                .map { $0["detail"] as String }
        }
    }

    @Test func silverInTimeOrderIsReadAsTheTableIs() throws {
        let start: Int64 = 1_709_280_000
        #expect(try plan((0..<500).map { start + $0 * 60 }) == ["SCAN silver_event"])
        #expect(try plan([]) == ["SCAN silver_event"])
    }

    @Test func silverWhoseFilesEachSpanTheMonthsIsReadAsTheTableIs() throws {
        let start: Int64 = 1_709_280_000
        // Ten files, each in time order over the same span (sorted runs, issue 15).
        let files = (0..<10).flatMap { file in (0..<50).map { start + Int64(file) + $0 * 3_600 } }
        #expect(try plan(files) == ["SCAN silver_event"])
    }
}
