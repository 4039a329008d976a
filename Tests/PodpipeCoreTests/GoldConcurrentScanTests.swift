import Foundation
import GRDB
import PodpipeSampleData
import Testing

@testable import PodpipeCore

/// The full rebuild may read silver through a reader of the pool on a second thread while
/// the refreshing transaction writes the spilled aggregates (GoldFullRebuild.run's
/// `scanner`). It must write exactly what the one-thread rebuild writes, whatever the spill
/// size (every spill crosses the hand-off between the threads).
@Suite("gold: full rebuild with silver scanned on a second thread")
struct GoldConcurrentScanTests {
    @Test(arguments: [1, 5, 97, 65_536])
    func concurrentScanWritesWhatTheOneThreadRebuildWrites(spill: Int) throws {
        let root = try TemporaryFolder("gold-scan")
        defer { root.remove() }
        let store = try root.store()

        var rng = SplitMix64(seed: UInt64(spill))
        let baseDay: Int64 = 19_783  // 2024-03-01
        try store.pool.write { db in
            for user in 0..<40 where rng.chance(80) {
                try db.execute(
                    sql:
                        "INSERT INTO silver_user (user_id, signup_date, country, file_id, line_no) VALUES (?, ?, ?, 1, ?)",
                    arguments: [
                        "u\(user)", "2024-0\(1 + rng.below(3))-1\(rng.below(9))",
                        ["DE", "FR", "US"][rng.below(3)], user,
                    ])
            }
            for episode in 0..<25 where rng.chance(80) {
                try db.execute(
                    sql: """
                        INSERT INTO silver_episode (episode_id, podcast_id, title, release_date, duration_seconds, file_id, line_no)
                        VALUES (?, 'p', 't', '2024-01-01', ?, 2, ?)
                        """,
                    arguments: ["ep_\(episode)", 60 + rng.below(4000), episode])
            }
            let types = ["play", "pause", "seek", "complete"]
            for line in 0..<3_000 {
                let type = types[rng.below(4)]
                let user = rng.below(44)
                try db.execute(
                    sql: """
                        INSERT OR IGNORE INTO silver_event (ts, user_id, episode_id, event_type, duration, file_id, line_no)
                        VALUES (?, ?, ?, ?, ?, 3, ?)
                        """,
                    arguments: [
                        (baseDay + Int64(rng.below(60))) * 86_400 + Int64(rng.below(86_400)),
                        user >= 42 ? "a-listener-with-a-long-id-\(user)" : "u\(user)", "ep_\(rng.below(28))",
                        type,
                        type == "play" || type == "complete" ? 1 + rng.below(5000) : nil, line,
                    ])
            }
        }

        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let (oneThread, concurrent) = try store.pool.write { db in
            var oneThread: [String: [String]] = [:]
            try db.inSavepoint {
                _ = try GoldRefresher(fullRebuildSpillEntries: spill).refresh(db, now: now, forceFull: true)
                oneThread = try goldTablesSnapshot(db)
                return .rollback
            }
            let summary = try GoldRefresher(fullRebuildSpillEntries: spill, scanReader: store.pool).refresh(
                db, now: now, forceFull: true)
            #expect(summary.mode == .full)
            return (oneThread, try goldTablesSnapshot(db))
        }
        #expect(oneThread["gold_agg_day_user_episode"]?.isEmpty == false)
        #expect(Set(oneThread.keys) == Set(concurrent.keys))
        for (name, rows) in oneThread {
            #expect(concurrent[name] == rows, "spill \(spill): \(name) differs with the concurrent scan")
        }
    }

    @Test func aFailingWriterStopsTheScanningThread() throws {
        let root = try TemporaryFolder("gold-scan")
        defer { root.remove() }
        let store = try root.store()
        try store.pool.write { db in
            for line in 0..<500 {
                try db.execute(
                    sql: """
                        INSERT INTO silver_event (ts, user_id, episode_id, event_type, duration, file_id, line_no)
                        VALUES (?, ?, ?, 'play', 10, 1, ?)
                        """,
                    arguments: [1_710_000_000 + line, "u\(line % 50)", "ep_\(line % 7)", line])
            }
        }
        // The spilled rows cannot be written (a trigger refuses them): the refresh fails
        // with that error and returns, the scanning thread having given up.
        let outcome = Result {
            try store.pool.write { db in
                try db.execute(
                    sql: """
                        CREATE TEMP TRIGGER refuse BEFORE INSERT ON gold_agg_day_user_episode
                        BEGIN SELECT RAISE(ABORT, 'refused by the test'); END
                        """)
                _ = try GoldRefresher(fullRebuildSpillEntries: 3, scanReader: store.pool).refresh(
                    db, now: Date(), forceFull: true)
            }
        }
        guard case .failure(let error) = outcome else {
            Issue.record("the refresh succeeded despite the refused rows")
            return
        }
        #expect("\(error)".contains("refused by the test"))
        // Gold was rolled back: never refreshed.
        #expect(try store.pool.read { db in try GoldRefresher.isStale(db) })
    }
}
