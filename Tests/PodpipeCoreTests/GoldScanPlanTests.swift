import Foundation
import GRDB
import Testing

@testable import PodpipeCore

/// The full rebuild reads silver in one sequential pass of the table (rowid order). Its
/// in-range condition on `ts` alone would let SQLite choose the natural-key index, whose
/// leading column is `ts`, and look every row up in the table: slower on every shape
/// (doc/performance.md).
@Suite("gold: the full rebuild's scan of silver")
struct GoldScanPlanTests {
    @Test func theScanReadsTheTableNotTheNaturalKeyIndex() throws {
        let root = try TemporaryFolder("gold-scan-plan")
        defer { root.remove() }
        let store = try root.store()
        let plan = try store.pool.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + GoldFullRebuild.silverScanSQL)
                .map { $0["detail"] as String }
        }
        #expect(plan == ["SCAN silver_event"], "\(plan)")
    }
}
