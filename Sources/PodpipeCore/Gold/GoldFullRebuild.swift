import GRDB
import GRDBSQLite

/// The full gold rebuild's event aggregates, computed in one sequential scan of silver.
///
/// SQLite has no hash aggregation: every `GROUP BY` that no index serves sorts its input, at
/// about 1.7 µs per row here (measured on 1M events: ~10 s of the 12 s of CPU the set-based
/// SQL rebuild took went into five such sorts of silver). This type reads `silver_event` once
/// in rowid order, aggregates in hash tables keyed by interned user/episode numbers, then
/// writes each aggregate table in its primary-key order (B-tree appends). The definitions are
/// exactly those of the tables in migration 0002 and of the incremental path
/// (`refresh_20_events.sql`), which the tests compare with this one.
///
/// Reads the reference snapshots `gold_ref_user` / `gold_ref_episode`, which
/// `refresh_05_full.sql` fills first. Memory: a few dozen bytes per distinct
/// (day, user, episode), (user, episode) and (day, episode) key.
struct GoldFullRebuild {
    private struct Triple: Hashable {
        var day: Int64
        var user: Int32
        var episode: Int32
    }

    private struct Pair: Hashable {
        var user: Int32
        var episode: Int32
    }

    private struct DayEpisode: Hashable {
        var day: Int64
        var episode: Int32
    }

    private struct PairSums {
        var plays: Int64 = 0
        var completions: Int64 = 0
        var completeDurationSum: Int64 = 0
    }

    private struct EpisodeSums {
        var plays: Int64 = 0
        var pauses: Int64 = 0
        var seeks: Int64 = 0
        var completions: Int64 = 0
        var completeDurationSum: Int64 = 0
        var listeners: Int64 = 0
        var minTs: Int64 = .max
        var maxTs: Int64 = .min
    }

    private struct DaySums {
        var events: Int64 = 0
        var plays: Int64 = 0
        var pauses: Int64 = 0
        var seeks: Int64 = 0
        var completions: Int64 = 0
        var activeUsers: Int64 = 0
        var listeningUsers: Int64 = 0
        var multiEpisodeUsers: Int64 = 0
    }

    private var userIds: [String: Int32] = [:]
    private var userNames: [String] = []
    private var episodeIds: [String: Int32] = [:]
    private var episodeNames: [String] = []
    private var triples: [Triple: Bool] = [:]
    private var pairs: [Pair: PairSums] = [:]
    private var dayEpisodeCompletions: [DayEpisode: Int64] = [:]
    private var episodes: [EpisodeSums] = []
    private var days: [Int64: DaySums] = [:]

    /// Rebuilds gold_agg_day, _episode_day, _episode, _day_user_episode, _user_day,
    /// _user_episode, _multi_episode_user, _country_listen_through, _cohort_period and
    /// gold_multi_episode_users from all of silver. The tables must be empty.
    static func run(_ db: Database) throws {
        var rebuild = GoldFullRebuild()
        try rebuild.scan(db)
        try rebuild.write(db)
    }

    // MARK: - Scan

    private mutating func scan(_ db: Database) throws {
        let select = try db.makeStatement(
            sql: "SELECT ts, user_id, episode_id, event_type, duration FROM silver_event")
        let handle = select.sqliteStatement
        sqlite3_reset(handle)
        defer { sqlite3_reset(handle) }
        var currentDay: Int64?
        var currentSums = DaySums()
        while true {
            let rc = sqlite3_step(handle)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else {
                throw GoldError.stepFailed(
                    step: "full rebuild (scan of silver_event)",
                    underlying: DatabaseError(resultCode: ResultCode(rawValue: rc)))
            }
            let ts = sqlite3_column_int64(handle, 0)
            let user = Self.intern(handle, 1, &userIds, &userNames)
            let episode = Self.intern(handle, 2, &episodeIds, &episodeNames)
            if Int(episode) == episodes.count { episodes.append(EpisodeSums()) }
            // event_type is one of play, pause, seek, complete (CHECK constraint).
            let type = sqlite3_column_text(handle, 3)
            let first = type?[0] ?? 0
            let isPlay = first == UInt8(ascii: "p") && type?[1] == UInt8(ascii: "l")
            let isPause = first == UInt8(ascii: "p") && !isPlay
            let isSeek = first == UInt8(ascii: "s")
            let isComplete = first == UInt8(ascii: "c")
            let duration: Int64? =
                sqlite3_column_type(handle, 4) == SQLITE_NULL ? nil : sqlite3_column_int64(handle, 4)
            let day = ts / 86_400  // truncates like SQLite's integer division
            let listened = isPlay || isComplete

            Self.or(&triples[Triple(day: day, user: user, episode: episode), default: false], listened)

            // Silver is mostly in time order: keep the current day's sums out of the table.
            if day != currentDay {
                if let previous = currentDay { days[previous] = currentSums }
                currentDay = day
                currentSums = days[day] ?? DaySums()
            }
            currentSums.events += 1
            var sums = episodes[Int(episode)]
            sums.minTs = min(sums.minTs, ts)
            sums.maxTs = max(sums.maxTs, ts)
            if isPlay {
                currentSums.plays += 1
                sums.plays += 1
                pairs[Pair(user: user, episode: episode), default: PairSums()].plays += 1
            } else if isPause {
                currentSums.pauses += 1
                sums.pauses += 1
            } else if isSeek {
                currentSums.seeks += 1
                sums.seeks += 1
            } else if isComplete {
                currentSums.completions += 1
                sums.completions += 1
                sums.completeDurationSum += duration ?? 0
                Self.addCompletion(
                    to: &pairs[Pair(user: user, episode: episode), default: PairSums()],
                    duration: duration ?? 0)
                dayEpisodeCompletions[DayEpisode(day: day, episode: episode), default: 0] += 1
            }
            episodes[Int(episode)] = sums
        }
        if let currentDay { days[currentDay] = currentSums }
    }

    @inline(__always)
    private static func or(_ flag: inout Bool, _ value: Bool) {
        if value { flag = true }
    }

    @inline(__always)
    private static func addCompletion(to sums: inout PairSums, duration: Int64) {
        sums.completions += 1
        sums.completeDurationSum += duration
    }

    private static func intern(
        _ handle: OpaquePointer, _ column: Int32, _ ids: inout [String: Int32],
        _ names: inout [String]
    ) -> Int32 {
        let count = Int(sqlite3_column_bytes(handle, column))
        let text: String
        if let bytes = sqlite3_column_text(handle, column) {
            text = String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
        } else {
            text = ""
        }
        if let id = ids[text] { return id }
        let id = Int32(names.count)
        ids[text] = id
        names.append(text)
        return id
    }

    // MARK: - Write

    /// Ranks of the names in SQLite's BINARY collation order (bytes), so that rows are
    /// inserted in primary-key order.
    private static func ranks(_ names: [String]) -> [Int32] {
        let order = names.indices.sorted { names[$0].utf8.lexicographicallyPrecedes(names[$1].utf8) }
        var rank = [Int32](repeating: 0, count: names.count)
        for (position, index) in order.enumerated() { rank[index] = Int32(position) }
        return rank
    }

    private mutating func write(_ db: Database) throws {
        let userRank = Self.ranks(userNames)
        let episodeRank = Self.ranks(episodeNames)

        // (day, user, episode) in key order; per-day and per-user distinct counters from it.
        var tripleRows = triples.map { ($0.key, $0.value) }
        triples = [:]
        tripleRows.sort {
            if $0.0.day != $1.0.day { return $0.0.day < $1.0.day }
            if $0.0.user != $1.0.user { return userRank[Int($0.0.user)] < userRank[Int($1.0.user)] }
            return episodeRank[Int($0.0.episode)] < episodeRank[Int($1.0.episode)]
        }
        let insertTriple = try BulkStatement(
            db,
            sql: """
                INSERT INTO gold_agg_day_user_episode (day, user_id, episode_id, listened)
                VALUES (?, ?, ?, ?)
                """)
        // (user, day) pairs with any event, and per user the days with 3+ listened episodes.
        var userDays: [(user: Int32, day: Int64)] = []
        var multiDays: [Int32: (days: Int64, first: Int64)] = [:]
        var index = 0
        while index < tripleRows.count {
            let (day, user) = (tripleRows[index].0.day, tripleRows[index].0.user)
            var listens: Int64 = 0
            while index < tripleRows.count, tripleRows[index].0.day == day,
                tripleRows[index].0.user == user
            {
                let (key, listened) = tripleRows[index]
                insertTriple.bind(1, key.day)
                insertTriple.bindText(2, userNames[Int(key.user)])
                insertTriple.bindText(3, episodeNames[Int(key.episode)])
                insertTriple.bind(4, listened ? 1 : 0)
                _ = try insertTriple.run()
                if listened { listens += 1 }
                index += 1
            }
            userDays.append((user, day))
            days[day, default: DaySums()].activeUsers += 1
            if listens > 0 { days[day, default: DaySums()].listeningUsers += 1 }
            if listens >= 3 {
                days[day, default: DaySums()].multiEpisodeUsers += 1
                let old = multiDays[user]
                multiDays[user] = ((old?.days ?? 0) + 1, min(old?.first ?? day, day))
            }
        }
        tripleRows = []

        userDays.sort {
            if $0.user != $1.user { return userRank[Int($0.user)] < userRank[Int($1.user)] }
            return $0.day < $1.day
        }
        let insertUserDay = try BulkStatement(
            db, sql: "INSERT INTO gold_agg_user_day (user_id, day) VALUES (?, ?)")
        for row in userDays {
            insertUserDay.bindText(1, userNames[Int(row.user)])
            insertUserDay.bind(2, row.day)
            _ = try insertUserDay.run()
        }

        let insertDay = try BulkStatement(
            db,
            sql: """
                INSERT INTO gold_agg_day (day, events, plays, pauses, seeks, completions,
                    active_users, listening_users, multi_episode_users)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for (day, sums) in days.sorted(by: { $0.key < $1.key }) {
            insertDay.bind(1, day)
            insertDay.bind(2, sums.events)
            insertDay.bind(3, sums.plays)
            insertDay.bind(4, sums.pauses)
            insertDay.bind(5, sums.seeks)
            insertDay.bind(6, sums.completions)
            insertDay.bind(7, sums.activeUsers)
            insertDay.bind(8, sums.listeningUsers)
            insertDay.bind(9, sums.multiEpisodeUsers)
            _ = try insertDay.run()
        }

        let insertMulti = try BulkStatement(
            db,
            sql: """
                INSERT INTO gold_agg_multi_episode_user (user_id, qualifying_days, first_day)
                VALUES (?, ?, ?)
                """)
        for (user, value) in multiDays.sorted(by: { userRank[Int($0.key)] < userRank[Int($1.key)] }) {
            insertMulti.bindText(1, userNames[Int(user)])
            insertMulti.bind(2, value.days)
            insertMulti.bind(3, value.first)
            _ = try insertMulti.run()
        }
        try db.execute(
            sql: "UPDATE gold_multi_episode_users SET users = ?", arguments: [multiDays.count])

        // (day, episode) completions.
        let insertEpisodeDay = try BulkStatement(
            db,
            sql: "INSERT INTO gold_agg_episode_day (day, episode_id, completions) VALUES (?, ?, ?)")
        let episodeDays = dayEpisodeCompletions.sorted {
            if $0.key.day != $1.key.day { return $0.key.day < $1.key.day }
            return episodeRank[Int($0.key.episode)] < episodeRank[Int($1.key.episode)]
        }
        dayEpisodeCompletions = [:]
        for (key, completions) in episodeDays {
            insertEpisodeDay.bind(1, key.day)
            insertEpisodeDay.bindText(2, episodeNames[Int(key.episode)])
            insertEpisodeDay.bind(3, completions)
            _ = try insertEpisodeDay.run()
        }

        // (user, episode) listen pairs, listeners per episode, listen-through by country.
        var countries: [String: (rate: Int64, completions: Int64)] = [:]
        let referenceUsers = try Self.referenceUsers(db)
        let durations = try Dictionary(
            Row.fetchAll(db, sql: "SELECT episode_id, duration_seconds FROM gold_ref_episode")
                .map { (row: Row) -> (String, Int64) in (row[0], row[1]) },
            uniquingKeysWith: { first, _ in first })
        let userReference = userNames.map { referenceUsers[$0] }
        let episodeDuration = episodeNames.map { durations[$0] }
        let pairRows = pairs.sorted {
            if $0.key.user != $1.key.user {
                return userRank[Int($0.key.user)] < userRank[Int($1.key.user)]
            }
            return episodeRank[Int($0.key.episode)] < episodeRank[Int($1.key.episode)]
        }
        pairs = [:]
        let insertPair = try BulkStatement(
            db,
            sql: """
                INSERT INTO gold_agg_user_episode
                    (user_id, episode_id, plays, completions, complete_duration_sum)
                VALUES (?, ?, ?, ?, ?)
                """)
        for (key, sums) in pairRows {
            insertPair.bindText(1, userNames[Int(key.user)])
            insertPair.bindText(2, episodeNames[Int(key.episode)])
            insertPair.bind(3, sums.plays)
            insertPair.bind(4, sums.completions)
            insertPair.bind(5, sums.completeDurationSum)
            _ = try insertPair.run()
            episodes[Int(key.episode)].listeners += 1
            if sums.completions > 0, let user = userReference[Int(key.user)],
                let duration = episodeDuration[Int(key.episode)], duration > 0
            {
                let s = sums.completeDurationSum
                let rate =
                    (s / duration) * 1_000_000_000
                    + ((s % duration) * 1_000_000_000 + duration / 2) / duration
                let old = countries[user.country] ?? (0, 0)
                countries[user.country] = (old.rate + rate, old.completions + sums.completions)
            }
        }
        let insertCountry = try BulkStatement(
            db,
            sql: """
                INSERT INTO gold_agg_country_listen_through (country, rate_sum_e9, completions)
                VALUES (?, ?, ?)
                """)
        for (country, value) in countries.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            insertCountry.bindText(1, country)
            insertCountry.bind(2, value.rate)
            insertCountry.bind(3, value.completions)
            _ = try insertCountry.run()
        }

        // Per episode.
        let insertEpisode = try BulkStatement(
            db,
            sql: """
                INSERT INTO gold_agg_episode (episode_id, plays, pauses, seeks, completions,
                    complete_duration_sum, listeners, first_day, last_day)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for episode in episodes.indices.sorted(by: { episodeRank[$0] < episodeRank[$1] }) {
            let sums = episodes[episode]
            insertEpisode.bindText(1, episodeNames[episode])
            insertEpisode.bind(2, sums.plays)
            insertEpisode.bind(3, sums.pauses)
            insertEpisode.bind(4, sums.seeks)
            insertEpisode.bind(5, sums.completions)
            insertEpisode.bind(6, sums.completeDurationSum)
            insertEpisode.bind(7, sums.listeners)
            insertEpisode.bind(8, sums.minTs / 86_400)
            insertEpisode.bind(9, sums.maxTs / 86_400)
            _ = try insertEpisode.run()
        }

        // Cohorts: distinct (user, week N / month N after signup), days on or after signup.
        // userDays is in (user, day) order, so a user's periods come in ascending order.
        struct CohortKey: Hashable {
            var cohortMonth: String
            var isWeek: Bool
            var number: Int64
        }
        var cohorts: [CohortKey: Int64] = [:]
        var start = 0
        while start < userDays.count {
            let user = userDays[start].user
            var end = start
            while end < userDays.count, userDays[end].user == user { end += 1 }
            if let reference = userReference[Int(user)] {
                var lastWeek: Int64 = -1
                var lastMonth: Int64 = .min
                for row in userDays[start..<end] where row.day >= reference.signupDay {
                    let week = (row.day - reference.signupDay) / 7
                    if week != lastWeek {
                        lastWeek = week
                        cohorts[
                            CohortKey(cohortMonth: reference.cohortMonth, isWeek: true, number: week),
                            default: 0] += 1
                    }
                    let (year, month, _) = GoldClock.civil(fromDays: row.day)
                    let monthNumber = year * 12 + month - 1 - reference.signupMonthIndex
                    if monthNumber != lastMonth {
                        lastMonth = monthNumber
                        cohorts[
                            CohortKey(
                                cohortMonth: reference.cohortMonth, isWeek: false, number: monthNumber),
                            default: 0] += 1
                    }
                }
            }
            start = end
        }
        let insertCohort = try BulkStatement(
            db,
            sql: """
                INSERT INTO gold_agg_cohort_period (cohort_month, period, period_number, active_users)
                VALUES (?, ?, ?, ?)
                """)
        for (key, users) in cohorts {
            insertCohort.bindText(1, key.cohortMonth)
            insertCohort.bindText(2, key.isWeek ? "week" : "month")
            insertCohort.bind(3, key.number)
            insertCohort.bind(4, users)
            _ = try insertCohort.run()
        }
    }

    private struct ReferenceUser {
        var country: String
        var signupDay: Int64
        var signupMonthIndex: Int64
        var cohortMonth: String
    }

    private static func referenceUsers(_ db: Database) throws -> [String: ReferenceUser] {
        var users: [String: ReferenceUser] = [:]
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT user_id, country, signup_day, signup_month_index, cohort_month
                FROM gold_ref_user
                """)
        while let row = try rows.next() {
            users[row[0]] = ReferenceUser(
                country: row[1], signupDay: row[2], signupMonthIndex: row[3], cohortMonth: row[4])
        }
        return users
    }
}
