import Foundation
import GRDB
import PodpipeRules
import Testing

@testable import PodpipeCore

@Suite("arithmetic on outside values never traps")
struct SafeArithmeticTests {
    @Test("saturating add, multiply and Double conversion")
    func saturating() {
        #expect(Int64.max.saturatingAdd(1) == .max)
        #expect(Int64.min.saturatingAdd(-1) == .min)
        #expect(Int64(5).saturatingAdd(-7) == -2)
        #expect(Int64(5_000_000_000_000_000_000).saturatingAdd(5_000_000_000_000_000_000) == .max)
        #expect(Int64(10_413_792_000).saturatingMultiply(1_000_000_000) == .max)
        #expect(Int64(-10_413_792_000).saturatingMultiply(1_000_000_000) == .min)
        #expect(Int64(3).saturatingMultiply(-4) == -12)
        #expect(Int64(clamping: Double.infinity) == .max)
        #expect(Int64(clamping: -Double.infinity) == .min)
        #expect(Int64(clamping: Double.nan) == 0)
        #expect(Int64(clamping: 1e300) == .max)
        #expect(Int64(clamping: 42.9) == 42)
    }

    @Test("file times past 2262 and before 1677 are held at the bounds of Int64 nanoseconds")
    func fileTimes() {
        #expect(FileTime.nanoseconds(seconds: 1_700_000_000, nanoseconds: 5) == 1_700_000_000_000_000_005)
        #expect(FileTime.nanoseconds(seconds: 10_413_792_000, nanoseconds: 0) == .max)  // 2300
        #expect(FileTime.nanoseconds(seconds: 9_223_372_036, nanoseconds: 999_999_999) == .max)
        #expect(FileTime.nanoseconds(seconds: -10_413_792_000, nanoseconds: 0) == .min)
        #expect(ISOTime.format(nanoseconds: .max) == "2262-04-11T23:47:16Z")
    }

    /// The integer formula gold used before, where it does not overflow.
    static func oldRate(_ s: Int64, _ d: Int64) -> Int64 {
        (s / d) * 1_000_000_000 + ((s % d) * 1_000_000_000 + d / 2) / d
    }

    @Test("a pair's rate: the old exact formula where it fit, held at the cap beyond, never a trap")
    func rates() {
        for (s, d) in [
            (Int64(1), Int64(3)), (2, 3), (1800, 3600), (3600, 1800), (7, 7), (1, 2), (5, 1_000_000_007),
        ] {
            #expect(GoldArithmetic.rateE9(sum: s, episodeSeconds: d) == Self.oldRate(s, d), "\(s)/\(d)")
        }
        #expect(GoldArithmetic.rateE9(sum: .max, episodeSeconds: 1) == GoldArithmetic.rateCapE9)
        #expect(GoldArithmetic.rateE9(sum: .max, episodeSeconds: .max) == 1_000_000_000)
        #expect(GoldArithmetic.rateE9(sum: 3, episodeSeconds: .max) == 0)
        #expect(GoldArithmetic.rateE9(sum: 10, episodeSeconds: 0) == 0)
        #expect(GoldArithmetic.rateE9(sum: -10, episodeSeconds: 5) == 0)
        #expect(GoldArithmetic.duration(.max) == EventValidator.maxDurationSeconds)
        #expect(GoldArithmetic.duration(600) == 600)
    }

    @Test("the SQL functions: saturating +, rate and SUM, where SQLite's SUM fails with integer overflow")
    func sqlFunctions() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            GoldArithmetic.register(on: db)
            try db.execute(sql: "CREATE TABLE t (x INTEGER)")
            try db.execute(sql: "INSERT INTO t VALUES (9223372036854775807), (9223372036854775807), (NULL)")
            #expect(throws: DatabaseError.self) { try Int64.fetchOne(db, sql: "SELECT SUM(x) FROM t") }
            #expect(try Int64.fetchOne(db, sql: "SELECT podpipe_sum(x) FROM t") == .max)
            #expect(try Int64.fetchOne(db, sql: "SELECT podpipe_sum(x) FROM t WHERE x IS NULL") == nil)
            #expect(try Int64.fetchOne(db, sql: "SELECT podpipe_add(9223372036854775807, 5)") == .max)
            #expect(try Int64.fetchOne(db, sql: "SELECT podpipe_add(-9223372036854775807, -5)") == .min)
            #expect(try Int64.fetchOne(db, sql: "SELECT podpipe_rate_e9(1800, 3600)") == 500_000_000)
            #expect(
                try Int64.fetchOne(db, sql: "SELECT podpipe_rate_e9(9223372036854775807, 1)")
                    == GoldArithmetic.rateCapE9)
        }
    }

    @Test(
        "a database already holding absurd durations and year-10000 events still refreshes; incremental == full"
    )
    func goldOnAbsurdSilver() throws {
        let world = try SilverWorld()
        try world.reference(
            users: ["u1": .init(signup: "2024-01-01", country: "DE")],
            episodes: ["ep_1": .init(podcast: "p", title: "One", release: "2024-01-01", duration: 1)])
        let huge: Int64 = 5_000_000_000_000_000_000  // two of them sum past 2^63
        try world.event("u1", "ep_1", "complete", on: "2024-03-01", at: "10:00:00", duration: huge)
        try world.event("u1", "ep_1", "complete", on: "2024-03-01", at: "11:00:00", duration: huge)
        try world.refresh()
        // Incremental: more of them, on a pair that is already huge, and an event of year 10000.
        try world.event("u1", "ep_1", "complete", on: "2024-03-02", duration: .max)
        try world.event("u1", "ep_2", "complete", on: "2024-03-02", duration: .max)
        try world.event("u1", "ep_1", "play", at: Timestamps.latestSupported + 3600, duration: 5)
        let summary = try world.refresh()
        #expect(summary.mode == .incremental)
        try world.queue.write { db in
            let incremental = try goldTablesSnapshot(db)
            _ = try GoldRefresher().refresh(
                db, now: Date(timeIntervalSince1970: 1_800_000_000), forceFull: true)
            #expect(try goldTablesSnapshot(db) == incremental)
            // Each duration counted at most 366 days; the year-10000 event left out.
            #expect(
                try Int64.fetchOne(
                    db, sql: "SELECT complete_duration_sum FROM gold_agg_episode WHERE episode_id = 'ep_1'")
                    == 3 * EventValidator.maxDurationSeconds)
            #expect(try Int64.fetchOne(db, sql: "SELECT SUM(events) FROM gold_agg_day") == 4)
            #expect(try Int64.fetchOne(db, sql: "SELECT count(*) FROM dim_date WHERE date_key > '9999'") == 0)
        }
        let rates = try world.report(.listenThrough)
        #expect(rates.rows.count == 1)
    }
}
