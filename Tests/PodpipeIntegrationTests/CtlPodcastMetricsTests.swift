import Foundation
import PodpipeSampleData
import Testing

// `podpipectl report podcast-metrics` on generated dirty data loaded by the real podpiped,
// compared row by row and metric by metric with PodcastMetricsOracle (plain Swift over the
// manifest's silver events).

@Suite("podpipectl report podcast-metrics")
struct CtlPodcastMetricsTests {
    /// The JSON rows of a run, and the oracle's rows in the same shape.
    static func compare(
        _ box: Sandbox, _ oracle: PodcastMetricsOracle, args: [String], asOf: String? = nil, days: Int = 7,
        byPodcast: Bool = false, byDay: Bool = false, minListeners: Int = 0
    ) throws {
        let run = try box.ctl(["report", "podcast-metrics", "--format", "json"] + args)
        #expect(run.status == 0, "\(args): \(run.stderr)")
        let actual = try #require(try jsonValue(run.stdout) as? [[String: Any]], "\(args)")
        let expected = oracle.rows(
            asOf: asOf, days: days, byPodcast: byPodcast, byDay: byDay, minListeners: minListeners)
        #expect(actual.count == expected.count, "\(args): row count")
        #expect(!expected.isEmpty, "\(args): the oracle has rows")
        let window = try #require(oracle.window(asOf: asOf, days: days))
        var mismatches = 0
        for (got, want) in zip(actual, expected) where mismatches < 5 {
            var problems: [String] = []
            func check(_ key: String, _ value: Any?, _ expected: Any?) {
                let same: Bool
                switch (value, expected) {
                case (is NSNull, nil), (nil, nil): same = true
                case (let v as NSNumber, let e as Int): same = v.int64Value == Int64(e)
                case (let v as NSNumber, let e as Double): same = abs(v.doubleValue - e) < 5e-7
                case (let v as String, let e as String): same = v == e
                default: same = false
                }
                if !same { problems.append("\(key): \(value ?? "absent") ≠ \(expected ?? "nil")") }
            }
            if byDay {
                check("day", got["day"], want.day)
                #expect(got["window_start"] == nil)
            } else {
                check("window_start", got["window_start"], window.start)
                check("window_end", got["window_end"], window.end)
            }
            check("podcast_id", got["podcast_id"], want.podcastId)
            if !byPodcast {
                check("episode_id", got["episode_id"], want.episodeId)
                check("title", got["title"], want.title)
            }
            check("plays", got["plays"], want.plays)
            check("listeners", got["listeners"], want.listeners)
            check("engaged_listeners", got["engaged_listeners"], want.engagedListeners)
            check("qualified_plays", got["qualified_plays"], want.qualifiedPlays)
            check("time_listened_seconds", got["time_listened_seconds"], want.timeListenedSeconds)
            check("avg_consumption", got["avg_consumption"], want.averageConsumption)
            if !problems.isEmpty {
                mismatches += 1
                Issue.record(
                    "\(args) row \(want.day ?? "") \(want.podcastId) \(want.episodeId ?? ""): \(problems)")
            }
        }
    }

    @Test func everyMetricMatchesTheOracleRowByRow() throws {
        let box = try Sandbox()
        let spec = SampleDataSpec(
            seed: 23, events: 8_000, users: 80, episodes: 30, eventFiles: 5, gzipFiles: 1,
            dirtyRate: 0.05, duplicateRate: 0.03, days: 30, recordEvents: true, ledgerEdgeCases: true)
        let manifest = try box.loadSample(spec)
        let oracle = PodcastMetricsOracle(try #require(SampleDataOracle(manifest)))
        // Engagement and qualification must both occur and both fail somewhere, or the test
        // would not tell the rules apart.
        let all = oracle.rows(days: 40, byDay: true)
        #expect(all.contains { ($0.engagedListeners ?? 0) > 0 })
        #expect(all.contains { ($0.engagedListeners ?? 0) < ($0.listeners ?? 0) })
        #expect(all.contains { ($0.qualifiedPlays ?? 0) > 0 })
        #expect(all.contains { $0.podcastId.isEmpty }, "an unknown episode")

        try Self.compare(box, oracle, args: [])
        try Self.compare(box, oracle, args: ["--by", "podcast"], byPodcast: true)
        try Self.compare(box, oracle, args: ["--by-day", "--days", "40"], days: 40, byDay: true)
        try Self.compare(
            box, oracle, args: ["--by", "podcast", "--by-day", "--days", "3"], days: 3, byPodcast: true,
            byDay: true)
        let asOf = try #require(oracle.window(days: 10)?.start)
        try Self.compare(
            box, oracle, args: ["--as-of", asOf, "--days", "14", "--min-listeners", "3"], asOf: asOf,
            days: 14,
            minListeners: 3)
    }

    @Test func everyFormatAndBadOptions() throws {
        let box = try Sandbox()
        _ = try box.loadSample()
        let csv = try box.ctl(["report", "podcast-metrics", "--by", "podcast", "--format", "csv"])
        #expect(csv.status == 0, "\(csv.stderr)")
        let rows = csvRows(csv.stdout)
        #expect(
            rows.first == [
                "window_start", "window_end", "podcast_id", "plays", "listeners", "engaged_listeners",
                "qualified_plays", "time_listened_seconds", "avg_consumption",
            ])
        #expect(rows.count > 1)
        let table = try box.ctl(["report", "podcast-metrics"])
        #expect(table.status == 0)
        #expect(table.stdout.split(separator: "\n").count > 2)

        for (args, message) in [
            (["--days", "0"], "--days"), (["--days", "99999"], "--days"),
            (["--min-listeners", "-3"], "--min-listeners"),
            (["--as-of", "2024-02-30"], "2024-02-30"),
        ] {
            let bad = try box.ctl(["report", "podcast-metrics"] + args)
            #expect(bad.status != 0, "\(args)")
            #expect(bad.stderr.contains(message), "\(args): \(bad.stderr)")
        }
        let badBy = try box.ctl(["report", "podcast-metrics", "--by", "country"])
        #expect(badBy.status == 64, "\(badBy.stderr)")
    }
}
