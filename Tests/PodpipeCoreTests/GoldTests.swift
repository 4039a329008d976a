import Foundation
import GRDB
import PodpipeSampleData
import Testing

@testable import PodpipeCore

// Gold: every answer is checked against an independent computation in plain Swift over the
// same silver rows (`SilverWorld` + `GoldOracle`), and the incremental refresh against a full
// rebuild, table by table.

// MARK: - A silver database and its plain-Swift twin

/// Silver rows kept both in a database (with the real migrations) and in memory.
final class SilverWorld {
    struct Event {
        var id: Int64
        var ts: Int64
        var user: String
        var episode: String
        var type: String
        var duration: Int64?
        var day: Int64 { ts / 86_400 }
    }
    struct User {
        var signup: String
        var country: String
    }
    struct Episode {
        var podcast: String
        var title: String
        var release: String
        var duration: Int64
    }

    let queue: DatabaseQueue
    private(set) var events: [Event] = []
    private(set) var users: [String: User] = [:]
    private(set) var episodes: [String: Episode] = [:]
    private var keys: Set<String> = []
    private var line: Int64 = 0

    init(path: String? = nil) throws {
        queue = try path.map { try DatabaseQueue(path: $0) } ?? DatabaseQueue()
        try Migrations.migrator.migrate(queue)
    }

    /// Inserts an event like the ingest does (a duplicate natural key is dropped).
    @discardableResult
    func event(
        _ user: String, _ episode: String, _ type: String, at ts: Int64, duration: Int64? = nil
    ) throws -> Bool {
        let key = "\(ts)|\(user)|\(episode)|\(type)"
        guard !keys.contains(key) else { return false }
        keys.insert(key)
        line += 1
        let id = try queue.write { db -> Int64 in
            try db.execute(
                sql: """
                    INSERT INTO silver_event (ts, user_id, episode_id, event_type, duration, file_id, line_no)
                    VALUES (?, ?, ?, ?, ?, 1, ?)
                    """,
                arguments: [ts, user, episode, type, duration, line])
            return db.lastInsertedRowID
        }
        events.append(Event(id: id, ts: ts, user: user, episode: episode, type: type, duration: duration))
        return true
    }

    /// A play/complete with a duration, or a pause/seek without.
    func event(
        _ user: String, _ episode: String, _ type: String, on date: String, at time: String = "12:00:00",
        duration: Int64? = nil
    ) throws {
        let ts = try #require(Self.unix(date, time))
        let withDuration = duration ?? ((type == "play" || type == "complete") ? 600 : nil)
        try event(user, episode, type, at: ts, duration: withDuration)
    }

    /// One users/episodes "file": upserts rows and bumps silver.reference_version once
    /// (`bump: false` imitates a writer that forgets to).
    func reference(
        users newUsers: [String: User] = [:], episodes newEpisodes: [String: Episode] = [:], bump: Bool = true
    ) throws {
        try queue.write { db in
            for (id, user) in newUsers {
                try db.execute(
                    sql: """
                        INSERT INTO silver_user (user_id, signup_date, country, file_id, line_no) VALUES (?, ?, ?, 2, 1)
                        ON CONFLICT (user_id) DO UPDATE SET signup_date = excluded.signup_date, country = excluded.country
                        """,
                    arguments: [id, user.signup, user.country])
            }
            for (id, episode) in newEpisodes {
                try db.execute(
                    sql: """
                        INSERT INTO silver_episode (episode_id, podcast_id, title, release_date, duration_seconds, file_id, line_no)
                        VALUES (?, ?, ?, ?, ?, 3, 1)
                        ON CONFLICT (episode_id) DO UPDATE SET podcast_id = excluded.podcast_id, title = excluded.title,
                            release_date = excluded.release_date, duration_seconds = excluded.duration_seconds
                        """,
                    arguments: [id, episode.podcast, episode.title, episode.release, episode.duration])
            }
            if bump { try Self.bump(db, "silver.reference_version") }
        }
        users.merge(newUsers) { _, new in new }
        episodes.merge(newEpisodes) { _, new in new }
    }

    /// Rewrites the reference tables from scratch (as a reference replay does: delete all,
    /// insert all), with `change` applied to the users first.
    func replayReference(changing change: (inout [String: User]) -> Void) throws {
        var newUsers = users
        change(&newUsers)
        try queue.write { db in
            try db.execute(sql: "DELETE FROM silver_user")
            try db.execute(sql: "DELETE FROM silver_episode")
        }
        users = [:]
        let allEpisodes = episodes
        episodes = [:]
        try reference(users: newUsers, episodes: allEpisodes)
    }

    /// Deletes events (as revalidate/reprocess would) and bumps silver.generation.
    func deleteEvents(where predicate: (Event) -> Bool) throws {
        let doomed = events.filter(predicate)
        try queue.write { db in
            for event in doomed {
                try db.execute(sql: "DELETE FROM silver_event WHERE event_id = ?", arguments: [event.id])
            }
            try Self.bump(db, "silver.generation")
        }
        events.removeAll(where: predicate)
        keys = Set(events.map { "\($0.ts)|\($0.user)|\($0.episode)|\($0.type)" })
    }

    @discardableResult
    func refresh(_ refresher: GoldRefresher = GoldRefresher(), forceFull: Bool = false) throws
        -> GoldRefreshSummary
    {
        try queue.write { db in
            try refresher.refresh(db, now: Date(timeIntervalSince1970: 1_800_000_000), forceFull: forceFull)
        }
    }

    func report(_ kind: ReportKind, _ options: ReportOptions = ReportOptions()) throws -> ReportTable {
        try queue.read { db in try Reports.run(kind, options: options, in: db) }
    }

    static func bump(_ db: Database, _ key: String) throws {
        try db.execute(
            sql: """
                INSERT INTO pipeline_state (key, value) VALUES (?, '1')
                ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)
                """,
            arguments: [key])
    }

    /// Unix seconds of a UTC date and time, via Foundation (independent of the SQL).
    static func unix(_ date: String, _ time: String = "00:00:00") -> Int64? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.date(from: "\(date) \(time)").map { Int64($0.timeIntervalSince1970) }
    }

    static func dayNumber(_ date: String) -> Int64? { unix(date).map { $0 / 86_400 } }
}

// MARK: - The oracle: every answer recomputed in plain Swift

enum GoldOracle {
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? TimeZone.current
        return calendar
    }()

    static func date(_ day: Int64) -> String {
        let components = utc.dateComponents(
            [.year, .month, .day], from: Date(timeIntervalSince1970: Double(day) * 86_400))
        return String(
            format: "%04d-%02d-%02d", components.year ?? 0, components.month ?? 0, components.day ?? 0)
    }

    static func monthIndex(day: Int64) -> Int64 {
        let components = utc.dateComponents(
            [.year, .month], from: Date(timeIntervalSince1970: Double(day) * 86_400))
        return Int64((components.year ?? 0) * 12 + (components.month ?? 1) - 1)
    }

    static func byteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    static func topEpisodes(_ world: SilverWorld, asOfDay: Int64? = nil) -> ReportTable {
        let columns = ["rank", "episode_id", "title", "podcast_id", "completions"]
        guard let end = asOfDay ?? world.events.map(\.day).max() else {
            return ReportTable(columns: columns, rows: [])
        }
        var counts: [String: Int64] = [:]
        for event in world.events where event.type == "complete" && event.day >= end - 6 && event.day <= end {
            counts[event.episode, default: 0] += 1
        }
        let ranked = counts.sorted { $0.value != $1.value ? $0.value > $1.value : byteOrder($0.key, $1.key) }
            .prefix(10)
        let rows = ranked.enumerated().map { index, entry -> [ReportValue] in
            let episode = world.episodes[entry.key]
            return [
                .integer(Int64(index + 1)), .text(entry.key), .text(episode?.title ?? ""),
                episode.map { .text($0.podcast) } ?? .text(""), .integer(entry.value),
            ]
        }
        return ReportTable(columns: columns, rows: rows)
    }

    static func listenThrough(_ world: SilverWorld) -> ReportTable {
        var sums: [String: (Double, Int64)] = [:]
        for event in world.events where event.type == "complete" {
            guard let user = world.users[event.user], let episode = world.episodes[event.episode],
                episode.duration > 0, let duration = event.duration
            else { continue }
            let current = sums[user.country] ?? (0, 0)
            sums[user.country] = (current.0 + Double(duration) / Double(episode.duration), current.1 + 1)
        }
        let rows = sums.sorted { byteOrder($0.key, $1.key) }.map { country, value -> [ReportValue] in
            [.text(country), .real(value.0 / Double(value.1), decimals: 6), .integer(value.1)]
        }
        return ReportTable(columns: ["country", "avg_listen_through_rate", "completions"], rows: rows)
    }

    /// (day, user) -> distinct episodes played or completed.
    static func listens(_ world: SilverWorld) -> [Int64: [String: Set<String>]] {
        var listens: [Int64: [String: Set<String>]] = [:]
        for event in world.events where event.type == "play" || event.type == "complete" {
            listens[event.day, default: [:]][event.user, default: []].insert(event.episode)
        }
        return listens
    }

    static func multiEpisodeUsers(_ world: SilverWorld) -> ReportTable {
        var users: Set<String> = []
        for (_, perUser) in listens(world) {
            for (user, episodes) in perUser where episodes.count >= 3 { users.insert(user) }
        }
        return ReportTable(columns: ["users"], rows: [[.integer(Int64(users.count))]])
    }

    static func multiEpisodeUsersByDay(_ world: SilverWorld) -> ReportTable {
        let rows = listens(world).compactMap { day, perUser -> (Int64, Int64)? in
            let count = perUser.values.filter { $0.count >= 3 }.count
            return count > 0 ? (day, Int64(count)) : nil
        }.sorted { $0.0 < $1.0 }.map { [ReportValue.text(date($0.0)), .integer($0.1)] }
        return ReportTable(columns: ["day", "users"], rows: rows)
    }

    static func dailyActivity(_ world: SilverWorld) -> ReportTable {
        let byDay = Dictionary(grouping: world.events, by: \.day)
        let listens = listens(world)
        let rows = byDay.keys.sorted().map { day -> [ReportValue] in
            let events = byDay[day] ?? []
            func count(_ type: String) -> ReportValue {
                .integer(Int64(events.filter { $0.type == type }.count))
            }
            let perUser = listens[day] ?? [:]
            return [
                .text(date(day)), .integer(Int64(events.count)), count("play"), count("pause"), count("seek"),
                count("complete"),
                .integer(Int64(Set(events.map(\.user)).count)), .integer(Int64(perUser.count)),
                .integer(Int64(perUser.values.filter { $0.count >= 3 }.count)),
            ]
        }
        return ReportTable(
            columns: [
                "day", "events", "plays", "pauses", "seeks", "completions", "active_users", "listening_users",
                "multi_episode_users",
            ],
            rows: rows)
    }

    static func episodePerformance(_ world: SilverWorld) -> ReportTable {
        let ids = Set(world.episodes.keys).union(world.events.map(\.episode))
        var rows: [(plays: Int64, completions: Int64, id: String, row: [ReportValue])] = []
        for id in ids {
            let events = world.events.filter { $0.episode == id }
            let plays = Int64(events.filter { $0.type == "play" }.count)
            let completes = events.filter { $0.type == "complete" }
            let listeners = Set(events.filter { $0.type == "play" || $0.type == "complete" }.map(\.user))
                .count
            let episode = world.episodes[id]
            var rate: ReportValue = .null
            if let episode, !completes.isEmpty {
                let sum = completes.reduce(0.0) { $0 + Double($1.duration ?? 0) / Double(episode.duration) }
                rate = .real(sum / Double(completes.count), decimals: 6)
            }
            let row: [ReportValue] = [
                .text(id), .text(episode?.title ?? ""), episode.map { .text($0.podcast) } ?? .text(""),
                .integer(plays), .integer(Int64(completes.count)),
                plays > 0 ? .real(Double(completes.count) / Double(plays), decimals: 6) : .null,
                .integer(Int64(listeners)), rate,
            ]
            rows.append((plays, Int64(completes.count), id, row))
        }
        rows.sort {
            if $0.completions != $1.completions { return $0.completions > $1.completions }
            if $0.plays != $1.plays { return $0.plays > $1.plays }
            return byteOrder($0.id, $1.id)
        }
        return ReportTable(
            columns: [
                "episode_id", "title", "podcast_id", "plays", "completions", "completion_rate",
                "unique_listeners", "avg_listen_through_rate",
            ],
            rows: rows.map(\.row))
    }

    static func cohortRetention(_ world: SilverWorld) -> ReportTable {
        var sizes: [String: Int64] = [:]
        for user in world.users.values { sizes[String(user.signup.prefix(7)), default: 0] += 1 }
        var active: [String: Set<String>] = [:]  // "cohort|period|n" -> users
        for event in world.events {
            guard let user = world.users[event.user], let signupDay = SilverWorld.dayNumber(user.signup),
                event.day >= signupDay
            else { continue }
            let cohort = String(user.signup.prefix(7))
            let week = (event.day - signupDay) / 7
            let month = monthIndex(day: event.day) - monthIndex(day: signupDay)
            active["\(cohort)|week|\(week)", default: []].insert(event.user)
            active["\(cohort)|month|\(month)", default: []].insert(event.user)
        }
        let rows = active.map { key, users -> (String, String, Int64, Int64) in
            let parts = key.split(separator: "|").map(String.init)
            return (parts[0], parts[1], Int64(parts[2]) ?? -1, Int64(users.count))
        }.sorted { ($0.0, $0.1, $0.2) < ($1.0, $1.1, $1.2) }.map {
            cohort, period, number, count -> [ReportValue] in
            let size = sizes[cohort] ?? 0
            return [
                .text(cohort), .integer(size), .text(period), .integer(number), .integer(count),
                .real(Double(count) / Double(size), decimals: 6),
            ]
        }
        return ReportTable(
            columns: [
                "cohort_month", "cohort_users", "period", "period_number", "active_users", "retention_rate",
            ], rows: rows)
    }

    static func bucket(_ seconds: Int64) -> String {
        switch seconds {
        case ..<900: "00-15 min"
        case ..<1800: "15-30 min"
        case ..<2700: "30-45 min"
        case ..<3600: "45-60 min"
        case ..<5400: "60-90 min"
        default: "90+ min"
        }
    }

    static func engagementByLength(_ world: SilverWorld) -> ReportTable {
        struct Acc { var episodes = 0; var plays: Int64 = 0; var completions: Int64 = 0; var rateSum = 0.0 }
        var buckets: [String: Acc] = [:]
        for (id, episode) in world.episodes {
            buckets[bucket(episode.duration), default: Acc()].episodes += 1; _ = id
        }
        for id in Set(world.events.map(\.episode)) where world.episodes[id] == nil {
            buckets["unknown", default: Acc()].episodes += 1
        }
        for event in world.events {
            let name = world.episodes[event.episode].map { bucket($0.duration) } ?? "unknown"
            if event.type == "play" { buckets[name, default: Acc()].plays += 1 }
            if event.type == "complete" {
                buckets[name, default: Acc()].completions += 1
                if let episode = world.episodes[event.episode] {
                    buckets[name, default: Acc()].rateSum +=
                        Double(event.duration ?? 0) / Double(episode.duration)
                }
            }
        }
        let rows = buckets.sorted { byteOrder($0.key, $1.key) }.map { name, acc -> [ReportValue] in
            [
                .text(name), .integer(Int64(acc.episodes)), .integer(acc.plays), .integer(acc.completions),
                acc.plays > 0 ? .real(Double(acc.completions) / Double(acc.plays), decimals: 6) : .null,
                .real(Double(acc.plays) / Double(acc.episodes), decimals: 6),
                acc.completions > 0 && name != "unknown"
                    ? .real(acc.rateSum / Double(acc.completions), decimals: 6) : .null,
            ]
        }
        return ReportTable(
            columns: [
                "length_bucket", "episodes", "plays", "completions", "completion_rate",
                "avg_plays_per_episode", "avg_listen_through_rate",
            ],
            rows: rows)
    }
}

/// Equal tables, reals within 1e-9 (the oracle sums in floating point in another order).
func expectReportMatches(
    _ actual: ReportTable, _ expected: ReportTable, _ context: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.columns == expected.columns, "\(context): columns", sourceLocation: sourceLocation)
    #expect(
        actual.rows.count == expected.rows.count, "\(context): \(actual.rows) vs \(expected.rows)",
        sourceLocation: sourceLocation)
    for (a, e) in zip(actual.rows, expected.rows) {
        let same =
            a.count == e.count
            && zip(a, e).allSatisfy { x, y in
                if case .real(let u, let du) = x, case .real(let v, let dv) = y {
                    return du == dv && abs(u - v) <= 1e-9 * max(1, abs(v))
                }
                return x == y
            }
        #expect(same, "\(context): row \(a) expected \(e)", sourceLocation: sourceLocation)
    }
}

/// Every gold table and view (and dim_date), rows sorted, for exact comparison.
func goldTablesSnapshot(_ db: Database) throws -> [String: [String]] {
    let names = try String.fetchAll(
        db,
        sql: """
            SELECT name FROM sqlite_master
            WHERE type IN ('table', 'view') AND (name LIKE 'gold\\_%' ESCAPE '\\' OR name LIKE 'dim\\_%' ESCAPE '\\' OR name LIKE 'fact\\_%' ESCAPE '\\')
            ORDER BY name
            """)
    var snapshot: [String: [String]] = [:]
    for name in names {
        let rows = try Row.fetchAll(db, sql: "SELECT * FROM \(name)")
        snapshot[name] = rows.map { row in row.databaseValues.map(\.description).joined(separator: "|") }
            .sorted()
    }
    return snapshot
}

// MARK: - Tests

@Suite("Gold layer")
struct GoldTests {
    static let base = "2024-03-01"

    @Test(
        "top episodes: ties by episode_id as text (ep_10 before ep_2), top 10 cut, unknown episodes with an empty title"
    )
    func topEpisodesTiesAndOrder() throws {
        let world = try SilverWorld()
        try world.reference(episodes: [
            "ep_2": .init(podcast: "podcast_1", title: "Two", release: "2024-01-01", duration: 1200),
            "ep_10": .init(podcast: "podcast_1", title: "Ten", release: "2024-01-01", duration: 1200),
        ])
        // ep_1..ep_12 with 1..3 completions, ep_10 and ep_2 tied; ep_99 unknown with the most.
        for n in 1...12 {
            let completions = n == 10 || n == 2 ? 3 : 1 + n % 3
            for k in 0..<completions {
                try world.event("u\(k)", "ep_\(n)", "complete", on: "2024-03-05", at: "10:00:0\(k)")
            }
        }
        for k in 0..<5 { try world.event("u\(k)", "ep_99", "complete", on: "2024-03-05") }
        try world.refresh()
        let table = try world.report(.topEpisodes)
        expectReportMatches(table, GoldOracle.topEpisodes(world), "top")
        #expect(table.rows.count == 10)
        let ids = table.rows.compactMap { row -> String? in if case .text(let id) = row[1] { id } else { nil }
        }
        let ten = try #require(ids.firstIndex(of: "ep_10")), two = try #require(ids.firstIndex(of: "ep_2"))
        #expect(ten < two)
        #expect(
            table.rows.first?[1] == .text("ep_99") && table.rows.first?[2] == .text("")
                && table.rows.first?[3] == .text(""))
        // The materialized table flags the unknown episode.
        let known = try world.queue.read { db in
            try Int.fetchOne(
                db, sql: "SELECT episode_known FROM gold_top_episodes_7d WHERE episode_id = 'ep_99'")
        }
        #expect(known == 0)
    }

    @Test("top episodes: the 7-day window ends on the latest event's date or --as-of; 23:59:59 vs 00:00:00")
    func topEpisodesWindow() throws {
        let world = try SilverWorld()
        // latest event: 2024-03-20 00:00:00 -> window 2024-03-14 .. 2024-03-20
        try world.event("u1", "ep_a", "complete", on: "2024-03-13", at: "23:59:59")  // out
        try world.event("u2", "ep_b", "complete", on: "2024-03-14", at: "00:00:00")  // in
        try world.event("u3", "ep_c", "complete", on: "2024-03-19", at: "23:59:59")  // in
        try world.event("u4", "ep_c", "complete", on: "2024-03-20", at: "00:00:00")  // in, latest
        try world.event("u5", "ep_d", "play", on: "2024-03-20", at: "00:00:00")  // not a completion
        try world.refresh()
        let latest = try world.report(.topEpisodes)
        expectReportMatches(latest, GoldOracle.topEpisodes(world), "latest")
        #expect(latest.rows.map { $0[1] } == [.text("ep_c"), .text("ep_b")])
        for asOf in ["2024-03-13", "2024-03-19", "2024-03-10", "2024-03-26", "2024-03-27", "2023-01-01"] {
            let day = try #require(SilverWorld.dayNumber(asOf))
            expectReportMatches(
                try world.report(.topEpisodes, ReportOptions(asOf: asOf)),
                GoldOracle.topEpisodes(world, asOfDay: day), asOf)
        }
        let window = try world.queue.read { db in
            try Row.fetchOne(db, sql: "SELECT window_start, window_end FROM gold_top_episodes_7d LIMIT 1")
        }
        #expect(window?["window_start"] == "2024-03-14" && window?["window_end"] == "2024-03-20")
    }

    @Test(
        "listen-through: only complete events of known users and known episodes; reference updates move rows")
    func listenThroughRulesAndReferenceUpdates() throws {
        let world = try SilverWorld()
        try world.reference(
            users: [
                "u1": .init(signup: "2024-01-05", country: "DE"),
                "u2": .init(signup: "2024-02-01", country: "FR"),
            ],
            episodes: [
                "ep_1": .init(podcast: "p", title: "One", release: "2024-01-01", duration: 1000),
                "ep_2": .init(podcast: "p", title: "Two, \"quoted\"", release: "2024-01-01", duration: 3000),
            ])
        try world.event("u1", "ep_1", "complete", on: "2024-03-01", duration: 900)
        try world.event("u1", "ep_2", "complete", on: "2024-03-01", duration: 1500)
        try world.event("u2", "ep_1", "complete", on: "2024-03-02", duration: 1200)
        try world.event("u2", "ep_1", "play", on: "2024-03-02", duration: 1000)  // a play: not counted
        try world.event("ghost", "ep_1", "complete", on: "2024-03-02", duration: 1000)  // unknown user
        try world.event("u1", "ep_404", "complete", on: "2024-03-02", duration: 1000)  // unknown episode
        try world.refresh()
        expectReportMatches(try world.report(.listenThrough), GoldOracle.listenThrough(world), "initial")
        #expect(try world.report(.listenThrough).rows.map { $0[2] } == [.integer(2), .integer(1)])

        // u1 moves to FR, ep_1's duration is corrected, the ghost user and ep_404 arrive.
        try world.reference(
            users: [
                "u1": .init(signup: "2024-01-05", country: "FR"),
                "ghost": .init(signup: "2024-02-10", country: "AT"),
            ],
            episodes: [
                "ep_1": .init(podcast: "p", title: "One (fixed)", release: "2024-01-01", duration: 1500),
                "ep_404": .init(podcast: "q", title: "Found", release: "2024-01-01", duration: 2000),
            ])
        #expect(try world.queue.read { db in try GoldRefresher.isStale(db) })
        let summary = try world.refresh()
        #expect(summary.mode == .incremental && summary.referenceChanged && summary.newEvents == 0)
        let after = try world.report(.listenThrough)
        expectReportMatches(after, GoldOracle.listenThrough(world), "after reference update")
        #expect(after.rows.map { $0[0] } == [.text("AT"), .text("FR")])
        // The fact resolves the formerly unknown members by itself.
        let unknown = try world.queue.read { db in
            try Int.fetchOne(
                db,
                sql: "SELECT COUNT(*) FROM fact_user_interactions WHERE user_known = 0 OR episode_known = 0")
        }
        #expect(unknown == 0)
    }

    @Test("listen-through: a zero duration never reaches silver_episode (CHECK), so gold never divides by it")
    func zeroDurationEpisodeIsImpossible() throws {
        let world = try SilverWorld()
        #expect(throws: DatabaseError.self) {
            try world.reference(episodes: [
                "ep_0": .init(podcast: "p", title: "Zero", release: "2024-01-01", duration: 0)
            ])
        }
    }

    @Test("a title correction shows in top episodes after the next refresh")
    func titleCorrection() throws {
        let world = try SilverWorld()
        try world.reference(episodes: [
            "ep_1": .init(podcast: "p", title: "Tpyo", release: "2024-01-01", duration: 1000)
        ])
        try world.event("u1", "ep_1", "complete", on: "2024-03-01")
        try world.refresh()
        #expect(try world.report(.topEpisodes).rows.first?[2] == .text("Tpyo"))
        try world.reference(episodes: [
            "ep_1": .init(podcast: "p", title: "Typo, fixed", release: "2024-01-01", duration: 1000)
        ])
        try world.refresh()
        #expect(try world.report(.topEpisodes).rows.first?[2] == .text("Typo, fixed"))
        expectReportMatches(try world.report(.topEpisodes), GoldOracle.topEpisodes(world))
    }

    @Test(
        "reference changes are logged by triggers: only real changes, even without a version bump, and replays"
    )
    func referenceChangeLog() throws {
        let world = try SilverWorld()
        func logged() throws -> [String] {
            try world.queue.read { db in
                try String.fetchAll(db, sql: "SELECT kind || ':' || id FROM gold_reference_change ORDER BY 1")
            }
        }
        try world.reference(
            users: [
                "u1": .init(signup: "2024-01-01", country: "DE"),
                "u2": .init(signup: "2024-02-01", country: "FR"),
            ],
            episodes: ["ep_1": .init(podcast: "p", title: "One", release: "2024-01-01", duration: 1000)])
        #expect(try logged() == ["episode:ep_1", "user:u1", "user:u2"])
        try world.event("u1", "ep_1", "complete", on: "2024-03-01", duration: 500)
        try world.event("u2", "ep_1", "complete", on: "2024-03-09", duration: 1000)
        try world.refresh()
        #expect(try logged().isEmpty)

        // Re-delivering the same values, or changing only a title, logs nothing.
        try world.reference(
            users: ["u1": .init(signup: "2024-01-01", country: "DE")],
            episodes: [
                "ep_1": .init(podcast: "p", title: "One (new title)", release: "2024-01-01", duration: 1000)
            ])
        #expect(try logged().isEmpty)
        try world.refresh()
        #expect(try world.report(.topEpisodes).rows.first?[2] == .text("One (new title)"))

        // A change whose writer forgot to bump silver.reference_version is still reconciled.
        try world.reference(users: ["u1": .init(signup: "2024-02-20", country: "AT")], bump: false)
        #expect(try logged() == ["user:u1"])
        #expect(try world.queue.read { db in try GoldRefresher.isStale(db) })
        try world.refresh()
        expectReportMatches(
            try world.report(.listenThrough), GoldOracle.listenThrough(world), "unbumped change")
        expectReportMatches(
            try world.report(.cohortRetention), GoldOracle.cohortRetention(world), "unbumped change")

        // A replay (delete everything, insert everything) with one real change.
        try world.replayReference { users in users["u2"] = .init(signup: "2023-12-31", country: "DE") }
        try world.refresh()
        #expect(try logged().isEmpty)
        expectReportMatches(try world.report(.listenThrough), GoldOracle.listenThrough(world), "replay")
        expectReportMatches(try world.report(.cohortRetention), GoldOracle.cohortRetention(world), "replay")
        try world.queue.write { db in
            let incremental = try goldTablesSnapshot(db)
            _ = try GoldRefresher().refresh(
                db, now: Date(timeIntervalSince1970: 1_800_000_000), forceFull: true)
            #expect(try goldTablesSnapshot(db) == incremental)
        }
    }

    @Test("multi-episode users: 2 vs 3 episodes a day, day boundaries, repeats and pauses do not count")
    func multiEpisodeUsers() throws {
        let world = try SilverWorld()
        // two: 2 episodes on one day
        try world.event("two", "ep_1", "play", on: "2024-03-01")
        try world.event("two", "ep_2", "complete", on: "2024-03-01")
        // three: 3 episodes (plays and a complete) on one day, and again on another
        try world.event("three", "ep_1", "play", on: "2024-03-01", at: "00:00:00")
        try world.event("three", "ep_2", "play", on: "2024-03-01", at: "12:00:00")
        try world.event("three", "ep_3", "complete", on: "2024-03-01", at: "23:59:59")
        for n in 1...4 { try world.event("three", "ep_\(n)", "play", on: "2024-03-05") }
        // midnight: 2 episodes at 23:59:59 and the 3rd at 00:00:00 the next day
        try world.event("midnight", "ep_1", "play", on: "2024-03-01", at: "23:59:58")
        try world.event("midnight", "ep_2", "play", on: "2024-03-01", at: "23:59:59")
        try world.event("midnight", "ep_3", "play", on: "2024-03-02", at: "00:00:00")
        // repeat: the same episode 3 times; pauser: 3 episodes but only pauses and seeks
        for time in ["01:00:00", "02:00:00", "03:00:00"] {
            try world.event("repeat", "ep_1", "play", on: "2024-03-01", at: time)
        }
        try world.event("pauser", "ep_1", "pause", on: "2024-03-01")
        try world.event("pauser", "ep_2", "seek", on: "2024-03-01")
        try world.event("pauser", "ep_3", "play", on: "2024-03-01")
        try world.refresh()
        expectReportMatches(
            try world.report(.multiEpisodeUsers), GoldOracle.multiEpisodeUsers(world), "total")
        #expect(try world.report(.multiEpisodeUsers).rows == [[.integer(1)]])
        expectReportMatches(
            try world.report(.multiEpisodeUsers, ReportOptions(byDay: true)),
            GoldOracle.multiEpisodeUsersByDay(world), "by day")

        // The midnight user's third episode on 2024-03-01 arrives later (a late file).
        try world.event("midnight", "ep_9", "complete", on: "2024-03-01", at: "00:00:00")
        try world.refresh()
        #expect(try world.report(.multiEpisodeUsers).rows == [[.integer(2)]])
        expectReportMatches(
            try world.report(.multiEpisodeUsers, ReportOptions(byDay: true)),
            GoldOracle.multiEpisodeUsersByDay(world), "by day, late")
    }

    @Test(
        "fact, dims and dim_date: one fact row per event, ISO timestamps, rates, flags, a gap-free calendar")
    func starSchema() throws {
        let world = try SilverWorld()
        try world.reference(
            users: ["u1": .init(signup: "2020-12-01", country: "DE")],
            episodes: ["ep_1": .init(podcast: "p", title: "One", release: "2020-01-01", duration: 2000)])
        try world.event("u1", "ep_1", "complete", on: "2020-12-31", at: "23:59:59", duration: 1000)
        try world.event("u2", "ep_1", "pause", on: "2021-01-04", at: "00:00:00")
        try world.event("u1", "ep_2", "complete", on: "2021-01-01", duration: 100)
        try world.refresh()
        let facts = try world.queue.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM fact_user_interactions ORDER BY interaction_id")
        }
        #expect(facts.count == world.events.count)
        #expect(facts.map { $0["interaction_id"] as Int64 } == world.events.map(\.id))
        let first: Row = facts[0], second: Row = facts[1], third: Row = facts[2]
        #expect(first["event_timestamp"] as String? == "2020-12-31T23:59:59Z")
        #expect(first["event_date"] as String? == "2020-12-31")
        #expect(first["listen_through_rate"] as Double? == 0.5)
        #expect(first["user_known"] as Bool? == true)
        #expect(first["episode_known"] as Bool? == true)
        #expect(second["user_known"] as Bool? == false)
        #expect(second["listen_through_rate"] as Double? == nil)
        #expect(third["episode_known"] as Bool? == false)
        #expect(third["listen_through_rate"] as Double? == nil)

        // dim_date covers every day from the first release or signup date or event to the
        // last, checked against Foundation's ISO calendar.
        var iso = Calendar(identifier: .iso8601)
        iso.timeZone = TimeZone(identifier: "UTC") ?? TimeZone.current
        let release = try #require(SilverWorld.dayNumber("2020-01-01"))
        let lastDay = try #require(SilverWorld.dayNumber("2021-01-04"))
        try world.event("u1", "ep_1", "seek", on: "2021-01-09")  // extends it forwards
        try world.refresh()
        let rows = try world.queue.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM dim_date ORDER BY day_number")
        }
        #expect(rows.map { $0["day_number"] as Int64 } == Array(release...(lastDay + 5)))
        for row in rows {
            let day: Int64 = row["day_number"]
            let date = Date(timeIntervalSince1970: Double(day) * 86_400)
            let parts = iso.dateComponents([.yearForWeekOfYear, .weekOfYear, .weekday], from: date)
            #expect(row["date_key"] as String? == GoldOracle.date(day))
            #expect(row["iso_week"] as Int? == parts.weekOfYear)
            #expect(row["iso_year"] as Int? == parts.yearForWeekOfYear)
            let isoWeekday = ((parts.weekday ?? 1) + 5) % 7 + 1
            #expect(row["day_of_week"] as Int? == isoWeekday)
            #expect(row["is_weekend"] as Bool? == (isoWeekday >= 6))
        }
    }

    @Test(
        "dim_date spans the events, signup and release dates (1970..2099), follows reference changes, and full = incremental"
    )
    func calendarCoversReferenceDates() throws {
        let world = try SilverWorld()
        func days() throws -> [Int64] {
            try world.queue.read { db in
                try Int64.fetchAll(db, sql: "SELECT day_number FROM dim_date ORDER BY day_number")
            }
        }
        func day(_ date: String) throws -> Int64 { try #require(SilverWorld.dayNumber(date)) }
        // Reference data only, no event yet: the calendar already covers its dates.
        try world.reference(
            users: ["u1": .init(signup: "2023-12-30", country: "DE")],
            episodes: ["e1": .init(podcast: "p", title: "One", release: "2024-01-02", duration: 100)])
        #expect(try world.refresh().mode == .full)
        #expect(try days() == Array(try day("2023-12-30")...(try day("2024-01-02"))))
        // Events later on: extended forwards, without a gap.
        try world.event("u1", "e1", "play", on: "2024-01-10")
        try world.refresh()
        #expect(try days() == Array(try day("2023-12-30")...(try day("2024-01-10"))))
        // A reference file alone (no event) with an earlier release date widens it, and dates
        // outside 1970..2099 (valid, hostile) are left out.
        try world.reference(
            users: ["u2": .init(signup: "0001-01-01", country: "FR")],
            episodes: [
                "e2": .init(podcast: "p", title: "Two", release: "2023-12-25", duration: 100),
                "e3": .init(podcast: "p", title: "Three", release: "9999-12-31", duration: 100),
            ])
        #expect(try world.refresh().mode == .incremental)
        #expect(try days() == Array(try day("2023-12-25")...(try day("2024-01-10"))))
        // A corrected release date narrows it again; the incremental calendar is the full one.
        try world.reference(episodes: [
            "e2": .init(podcast: "p", title: "Two", release: "2024-01-05", duration: 100)
        ])
        try world.refresh()
        #expect(try days() == Array(try day("2023-12-30")...(try day("2024-01-10"))))
        try world.queue.write { db in
            let incremental = try goldTablesSnapshot(db)
            _ = try GoldRefresher().refresh(
                db, now: Date(timeIntervalSince1970: 1_800_000_000), forceFull: true)
            #expect(try goldTablesSnapshot(db) == incremental)
        }
    }

    @Test("refresh modes: first full, incremental, none without writes, full after a silver rebuild")
    func refreshModes() throws {
        let world = try SilverWorld()
        #expect(try world.queue.read { db in try GoldRefresher.isStale(db) })
        #expect(try world.refresh().mode == .full)
        #expect(try !world.queue.read { db in try GoldRefresher.isStale(db) })
        #expect(try world.queue.read { db in try GoldRefresher.refreshedAt(db) } == "2027-01-15T08:00:00Z")
        try world.event("u1", "ep_1", "play", on: "2024-03-01")
        try world.event("u1", "ep_2", "play", on: "2024-03-01")
        #expect(try world.queue.read { db in try GoldRefresher.isStale(db) })
        let incremental = try world.refresh()
        #expect(
            incremental.mode == .incremental && incremental.newEvents == 2
                && incremental.toEventId == world.events.last?.id)
        let none = try world.queue.write { db -> (GoldRefreshSummary, Int) in
            let before = db.totalChangesCount
            let summary = try GoldRefresher().refresh(db, now: Date(), forceFull: false)
            return (summary, db.totalChangesCount - before)
        }
        #expect(none.0.mode == .none && none.1 == 0)
        try world.deleteEvents { $0.episode == "ep_2" }
        let full = try world.refresh()
        #expect(full.mode == .full && full.newEvents == 1)
        expectReportMatches(
            try world.report(.dailyActivity), GoldOracle.dailyActivity(world), "after rebuild")
        #expect(try world.refresh(forceFull: true).mode == .full)
    }

    @Test("ids that differ only in Unicode normalization are two ids, as in SQL: full rebuild == incremental")
    func canonicallyEquivalentIdsStayApart() throws {
        let world = try SilverWorld()
        // Longer than 15 bytes: the full rebuild interns long ids apart from short ones.
        let userNFC = "listener-with-a-long-id-caf\u{E9}"
        let userNFD = "listener-with-a-long-id-cafe\u{301}"
        let episodeNFC = "episode-long-id-\u{E9}"
        let episodeNFD = "episode-long-id-e\u{301}"
        #expect(userNFC == userNFD && episodeNFC == episodeNFD)  // equal as Swift strings
        #expect(Array(userNFC.utf8) != Array(userNFD.utf8))  // two ids for SQLite (BINARY)
        try world.reference(
            users: [userNFC: .init(signup: "2024-01-01", country: "DE")],
            episodes: [episodeNFC: .init(podcast: "p", title: "C", release: "2024-01-01", duration: 1000)])
        try world.reference(
            users: [userNFD: .init(signup: "2024-02-01", country: "FR")],
            episodes: [episodeNFD: .init(podcast: "p", title: "D", release: "2024-01-01", duration: 2000)])
        #expect(try world.refresh().mode == .full)
        let pairs = [
            (userNFC, episodeNFC), (userNFD, episodeNFD), (userNFC, episodeNFD), (userNFD, episodeNFC),
        ]
        for (index, (user, episode)) in pairs.enumerated() {
            try world.event(user, episode, "play", on: "2024-03-0\(index + 1)")
            try world.event(
                user, episode, "complete", on: "2024-03-0\(index + 1)", at: "13:00:00", duration: 900)
        }
        #expect(try world.refresh().mode == .incremental)
        try world.queue.write { db in
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM gold_agg_user_episode") == 4)
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM gold_agg_country_listen_through") == 2)
            let incremental = try goldTablesSnapshot(db)
            try db.inSavepoint {
                _ = try GoldRefresher().refresh(
                    db, now: Date(timeIntervalSince1970: 1_800_000_000), forceFull: true)
                let full = try goldTablesSnapshot(db)
                for (name, rows) in full {
                    #expect(incremental[name] == rows, "\(name) differs from a full rebuild")
                }
                return .rollback
            }
        }
    }

    @Test("refresh outside a transaction is refused with a clear error")
    func refreshNeedsTransaction() throws {
        let world = try SilverWorld()
        world.queue.writeWithoutTransaction { db in
            let error = #expect(throws: GoldError.self) {
                try GoldRefresher().refresh(db, now: Date())
            }
            guard case .notInTransaction = error else {
                Issue.record("expected notInTransaction, got \(String(describing: error))")
                return
            }
            #expect(error?.description.contains("transaction") == true)
        }
    }

    @Test(
        "incremental refresh == full rebuild, and every answer == the oracle, over random batches",
        arguments: [1, 2, 3, 4])
    func incrementalEqualsFull(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let world = try SilverWorld()
        let baseDay = try #require(SilverWorld.dayNumber("2024-01-01"))
        let countries = ["DE", "FR", "US", "AT"]
        for batch in 0..<8 {
            // Reference files now and then: new users/episodes, country/signup/title/duration changes.
            if rng.next(4) != 0 {
                var users: [String: SilverWorld.User] = [:]
                var episodes: [String: SilverWorld.Episode] = [:]
                for _ in 0..<rng.next(8) {
                    let month = 1 + rng.next(12), day = 1 + rng.next(28)
                    users["u\(rng.next(30))"] = .init(
                        signup: String(format: "2023-%02d-%02d", month, day),
                        country: countries[Int(rng.next(4))])
                }
                for _ in 0..<rng.next(5) {
                    let id = "ep_\(rng.next(16))"
                    episodes[id] = .init(
                        podcast: "podcast_\(rng.next(3))", title: "Title \(rng.next(100)), \"v\(batch)\"",
                        release: "2023-06-01", duration: Int64(200 + rng.next(6000)))
                }
                // Now and then a writer that does not bump silver.reference_version.
                try world.reference(users: users, episodes: episodes, bump: rng.next(4) != 0)
            }
            if batch == 3 {
                // A reference replay: delete all, insert all, some countries changed.
                try world.replayReference { users in
                    for id in users.keys where rng.next(3) == 0 {
                        users[id]?.country = countries[Int(rng.next(4))]
                    }
                }
            }
            // Events on any day of a 70-day history, including day edges.
            for _ in 0..<rng.next(160) {
                let day = baseDay + Int64(rng.next(70))
                let second: Int64 = [0, 86_399, Int64(rng.next(86_400))][Int(rng.next(3))]
                let type = ["play", "pause", "seek", "complete"][Int(rng.next(4))]
                let duration: Int64? = type == "play" || type == "complete" ? Int64(1 + rng.next(7000)) : nil
                // Some ids longer than 15 bytes (the full rebuild interns short and long ids apart).
                let user = rng.next(34), episode = rng.next(18)
                try world.event(
                    user >= 32 ? "listener-with-a-long-id-\(user)" : "u\(user)",
                    episode == 17 ? "episode-with-a-long-id-é-\(episode)" : "ep_\(episode)",
                    type, at: day * 86_400 + second, duration: duration)
            }
            if batch == 5 {
                try world.deleteEvents { $0.id % 7 == 0 }  // a revalidate: generation bump
            }
            let summary = try world.refresh(GoldRefresher(chunkSize: 1 + Int(rng.next(60))))
            if batch == 0 || batch == 5 {
                #expect(summary.mode == .full)
            } else {
                #expect(summary.mode != .full)
            }
            #expect(try world.queue.read { db in try !GoldRefresher.isStale(db) })

            // Incremental == full == a full rebuild that spills its keyed aggregates every few
            // keys (merged on write), every gold table and view, exactly.
            let spill = 1 + Int(rng.next(40))
            try world.queue.write { db in
                let incremental = try goldTablesSnapshot(db)
                try db.inSavepoint {
                    _ = try GoldRefresher().refresh(
                        db, now: Date(timeIntervalSince1970: 1_800_000_000), forceFull: true)
                    let full = try goldTablesSnapshot(db)
                    #expect(Set(incremental.keys) == Set(full.keys))
                    for (name, rows) in full {
                        #expect(
                            incremental[name] == rows,
                            "seed \(seed) batch \(batch): \(name) differs from a full rebuild")
                    }
                    try db.inSavepoint {
                        _ = try GoldRefresher(fullRebuildSpillEntries: spill).refresh(
                            db, now: Date(timeIntervalSince1970: 1_800_000_000), forceFull: true)
                        let spilled = try goldTablesSnapshot(db)
                        for (name, rows) in full {
                            #expect(
                                spilled[name] == rows,
                                "seed \(seed) batch \(batch): \(name) differs when spilling every \(spill) keys"
                            )
                        }
                        return .rollback
                    }
                    return .rollback
                }
            }
            // Every answer == the oracle.
            let context = "seed \(seed) batch \(batch)"
            expectReportMatches(try world.report(.topEpisodes), GoldOracle.topEpisodes(world), context)
            let asOf = baseDay + Int64(rng.next(75))
            expectReportMatches(
                try world.report(.topEpisodes, ReportOptions(asOf: GoldOracle.date(asOf))),
                GoldOracle.topEpisodes(world, asOfDay: asOf), context)
            expectReportMatches(try world.report(.listenThrough), GoldOracle.listenThrough(world), context)
            expectReportMatches(
                try world.report(.multiEpisodeUsers), GoldOracle.multiEpisodeUsers(world), context)
            expectReportMatches(
                try world.report(.multiEpisodeUsers, ReportOptions(byDay: true)),
                GoldOracle.multiEpisodeUsersByDay(world), context)
            expectReportMatches(try world.report(.dailyActivity), GoldOracle.dailyActivity(world), context)
            expectReportMatches(
                try world.report(.episodePerformance), GoldOracle.episodePerformance(world), context)
            expectReportMatches(
                try world.report(.cohortRetention), GoldOracle.cohortRetention(world), context)
            expectReportMatches(
                try world.report(.engagementByLength), GoldOracle.engagementByLength(world), context)
        }
    }
}
