import Foundation
import Testing

@testable import PodpipeCore

// `report podcast-metrics` on tiny hand-made event sets: each test builds the events of a
// rule's boundary and states the numbers the rule gives (doc/analysts.md, "Podcast metrics").

@Suite("podcast metrics")
struct PodcastMetricsTests {
    static let day = "2024-03-01"
    static let nextDay = "2024-03-02"

    /// Seconds since 1970 of `time` on `day`.
    static func at(_ time: String, on day: String = Self.day) throws -> Int64 {
        try #require(SilverWorld.unix(day, time))
    }

    /// The report's rows keyed by `key` (episode_id or podcast_id, with the day by day).
    static func rows(_ table: ReportTable, key: [String]) -> [String: [String: ReportValue]] {
        var result: [String: [String: ReportValue]] = [:]
        for row in table.rows {
            let named = Dictionary(uniqueKeysWithValues: zip(table.columns, row))
            let id = key.map { column -> String in
                if case .text(let text) = named[column] { return text }
                return "?"
            }.joined(separator: "|")
            result[id] = named
        }
        return result
    }

    static func world() throws -> SilverWorld {
        let world = try SilverWorld()
        try world.reference(
            users: [:],
            episodes: [
                "e1": .init(podcast: "p1", title: "Long, \"one\"", release: "2024-01-01", duration: 3000),
                "e2": .init(podcast: "p1", title: "Short", release: "2024-01-01", duration: 100),
            ])
        return world
    }

    @Test(
        "sessions: plays summed; a gap of 1,800 s continues one, 1,801 s starts the next; a complete closes it"
    )
    func sessionBoundaries() throws {
        let world = try Self.world()
        let t = try Self.at("10:00:00")
        // u1: play 300 s, pause, play again exactly 1,800 s after the pause, complete (the
        // listen's 900 s): one session of 900 s; a play after the complete: a second, 100 s.
        try world.event("u1", "e1", "play", at: t, duration: 300)
        try world.event("u1", "e1", "pause", at: t + 300)
        try world.event("u1", "e1", "play", at: t + 2100, duration: 600)
        try world.event("u1", "e1", "complete", at: t + 2700, duration: 900)
        try world.event("u1", "e1", "play", at: t + 2800, duration: 100)
        // u2: 60 s, then 1,199 s starting 1,801 s after the first play ended: two sessions,
        // neither of 20 min.
        try world.event("u2", "e1", "play", at: t, duration: 60)
        try world.event("u2", "e1", "pause", at: t + 60)
        try world.event("u2", "e1", "play", at: t + 1861, duration: 1199)
        // u3: the same, 1,800 s later: one session of 1,259 s, engaged.
        try world.event("u3", "e1", "play", at: t, duration: 60)
        try world.event("u3", "e1", "pause", at: t + 60)
        try world.event("u3", "e1", "play", at: t + 1860, duration: 1199)
        // u4: play 700 s, its complete (700 s), then 600 s more: sessions of 700 and 600 s,
        // not one of 1,300 s.
        try world.event("u4", "e1", "play", at: t, duration: 700)
        try world.event("u4", "e1", "complete", at: t + 700, duration: 700)
        try world.event("u4", "e1", "play", at: t + 710, duration: 600)
        // u5: a complete alone (its plays never arrived): 1,300 s, engaged, no plays.
        try world.event("u5", "e1", "complete", at: t, duration: 1300)
        try world.refresh()

        let table = try world.report(.podcastMetrics, ReportOptions(asOf: Self.day, days: 1))
        #expect(
            table.columns == [
                "window_start", "window_end", "podcast_id", "episode_id", "title", "plays", "listeners",
                "engaged_listeners", "qualified_plays", "time_listened_seconds", "avg_consumption",
            ])
        #expect(table.rows.count == 1)
        let row = try #require(Self.rows(table, key: ["episode_id"])["e1"])
        #expect(row["window_start"] == .text(Self.day))
        #expect(row["window_end"] == .text(Self.day))
        #expect(row["podcast_id"] == .text("p1"))
        #expect(row["title"] == .text("Long, \"one\""))
        #expect(row["plays"] == .integer(9))
        #expect(row["listeners"] == .integer(5))
        #expect(row["engaged_listeners"] == .integer(2), "u3 and u5")
        #expect(row["qualified_plays"] == .integer(5))
        let seconds: Int64 = 1000 + 1259 + 1259 + 1300 + 1300
        #expect(row["time_listened_seconds"] == .integer(seconds))
        let capacity = 5.0 * 3000
        #expect(row["avg_consumption"] == .real(6118.0 / capacity, decimals: 6))
    }

    @Test("engaged: 40 % of the episode's length, or 20 min (the only rule for an unknown episode)")
    func engagedRule() throws {
        let world = try Self.world()
        let t = try Self.at("10:00:00")
        try world.event("u6", "e2", "play", at: t, duration: 40)  // 40 % of 100 s
        try world.event("u7", "e2", "play", at: t, duration: 39)
        try world.event("u8", "e9", "play", at: t, duration: 1199)
        try world.event("u9", "e9", "play", at: t, duration: 1200)  // 20 min
        try world.refresh()
        let rows = Self.rows(
            try world.report(.podcastMetrics, ReportOptions(asOf: Self.day, days: 1)), key: ["episode_id"])
        #expect(rows["e2"]?["engaged_listeners"] == .integer(1))
        #expect(rows["e9"]?["engaged_listeners"] == .integer(1))
        #expect(rows["e2"]?["avg_consumption"] == .real(79.0 / 200, decimals: 6))
        // Unknown episode: empty title and podcast, no consumption (no length).
        #expect(rows["e9"]?["podcast_id"] == .text(""))
        #expect(rows["e9"]?["title"] == .text(""))
        #expect(rows["e9"]?["avg_consumption"] == .null)
        #expect(rows["e9"]?["time_listened_seconds"] == .integer(2399))
    }

    /// u6 and u7 on e2 over two days, u10 on e1 across midnight.
    static func twoDays() throws -> SilverWorld {
        let world = try Self.world()
        try world.event("u6", "e2", "play", at: try at("10:00:00"), duration: 40)
        // u7: 39 s and, hours later, 21 s: no session of 60 s, but 60 s that day.
        try world.event("u7", "e2", "play", at: try at("10:00:00"), duration: 39)
        try world.event("u7", "e2", "play", at: try at("14:00:00"), duration: 21)
        try world.event("u7", "e2", "play", at: try at("10:00:00", on: nextDay), duration: 59)
        // u10: 700 s from 23:50, then 600 s after midnight: a session per day, neither
        // engaged (one of 1,300 s would be).
        try world.event("u10", "e1", "play", at: try at("23:50:00"), duration: 700)
        try world.event("u10", "e1", "pause", at: try at("00:01:40", on: nextDay))
        try world.event("u10", "e1", "play", at: try at("00:02:00", on: nextDay), duration: 600)
        try world.refresh()
        return world
    }

    @Test("qualified plays: 60 s per user × episode × UTC day; sessions end at UTC midnight")
    func qualifiedPlaysAndMidnight() throws {
        let world = try Self.twoDays()
        let byDay = Self.rows(
            try world.report(.podcastMetrics, ReportOptions(byDay: true, days: 2)),
            key: ["day", "episode_id"])
        #expect(byDay.count == 4)
        #expect(byDay["\(Self.day)|e2"]?["qualified_plays"] == .integer(1), "u7's 39 + 21 s")
        #expect(byDay["\(Self.day)|e2"]?["listeners"] == .integer(2))
        #expect(byDay["\(Self.day)|e2"]?["plays"] == .integer(3))
        #expect(byDay["\(Self.nextDay)|e2"]?["qualified_plays"] == .integer(0))
        #expect(byDay["\(Self.day)|e1"]?["time_listened_seconds"] == .integer(700))
        #expect(byDay["\(Self.nextDay)|e1"]?["time_listened_seconds"] == .integer(600))
        #expect(byDay["\(Self.day)|e1"]?["engaged_listeners"] == .integer(0))
        #expect(byDay["\(Self.nextDay)|e1"]?["engaged_listeners"] == .integer(0))

        // Over the window: distinct listeners, the day's triples summed.
        let window = Self.rows(
            try world.report(.podcastMetrics, ReportOptions(days: 2)), key: ["episode_id"])
        #expect(window["e2"]?["listeners"] == .integer(2))
        #expect(window["e2"]?["qualified_plays"] == .integer(1))
        #expect(window["e2"]?["time_listened_seconds"] == .integer(159))
        #expect(window["e1"]?["qualified_plays"] == .integer(2))
        // A window of one day (the latest, by default) holds that day only.
        let last = Self.rows(try world.report(.podcastMetrics, ReportOptions(days: 1)), key: ["episode_id"])
        #expect(last["e2"]?["window_start"] == .text(Self.nextDay))
        #expect(last["e2"]?["time_listened_seconds"] == .integer(59))
    }

    @Test(
        "by podcast: listeners distinct across its episodes, consumption over each episode's listeners × length"
    )
    func byPodcast() throws {
        let world = try Self.twoDays()
        let table = try world.report(.podcastMetrics, ReportOptions(days: 2, grouping: .podcast))
        #expect(
            table.columns == [
                "window_start", "window_end", "podcast_id", "plays", "listeners", "engaged_listeners",
                "qualified_plays", "time_listened_seconds", "avg_consumption",
            ])
        let row = try #require(Self.rows(table, key: ["podcast_id"])["p1"])
        #expect(row["listeners"] == .integer(3))
        #expect(row["plays"] == .integer(6))
        #expect(row["time_listened_seconds"] == .integer(159 + 1300))
        let capacity = 2.0 * 100 + 1.0 * 3000  // e2: u6, u7; e1: u10
        #expect(row["avg_consumption"] == .real(1459.0 / capacity, decimals: 6))
    }

    @Test("--min-listeners: rows under the threshold keep their keys and hide every metric")
    func privacyThreshold() throws {
        let world = try Self.twoDays()
        let rows = Self.rows(
            try world.report(.podcastMetrics, ReportOptions(byDay: true, days: 2, minListeners: 2)),
            key: ["day", "episode_id"])
        #expect(rows.count == 4)
        #expect(rows["\(Self.day)|e2"]?["listeners"] == .integer(2))
        let hidden = try #require(rows["\(Self.nextDay)|e2"])
        #expect(hidden["title"] == .text("Short"))
        for metric in [
            "plays", "listeners", "engaged_listeners", "qualified_plays", "time_listened_seconds",
            "avg_consumption",
        ] {
            #expect(hidden[metric] == .null, "\(metric)")
        }
    }

    @Test("--days and --min-listeners out of range are typed errors")
    func invalidOptions() throws {
        let world = try Self.twoDays()
        for days in [0, -1, ReportOptions.maxDays + 1, Int.max] {
            #expect(throws: ReportError.invalidDays(days)) {
                try world.report(.podcastMetrics, ReportOptions(days: days))
            }
        }
        #expect(throws: ReportError.invalidMinListeners(-1)) {
            try world.report(.podcastMetrics, ReportOptions(minListeners: -1))
        }
        #expect(try world.report(.podcastMetrics, ReportOptions(days: ReportOptions.maxDays)).rows.count == 2)
    }
}
