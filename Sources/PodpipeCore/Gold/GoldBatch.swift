import GRDB
import GRDBSQLite
import PodpipeRules

/// The first step of an incremental refresh: one batch of new silver events, grouped in Swift
/// hash tables (``GoldBatchTables``), written into the temp tables `refresh_20_events.sql`
/// works from.
///
/// - `gold_tmp_triple`: the batch's (day, user, episode) keys with their event counts and
///   sums, and `old_listened`, the key's `listened` in gold before the batch (NULL: new);
/// - `gold_tmp_pair`: the batch's (user, episode) pairs with a play or complete, their sums,
///   and `old_duration_sum`, the pair's sum in gold_agg_user_episode before the batch (NULL:
///   a new pair);
/// - `gold_tmp_user_day`: the batch's (user, day) pairs: `is_new` (gold had no row of that
///   user on that day), `before_count` (its listened episodes that day before the batch) and
///   `added` (the episodes the batch makes listened that day);
/// - `gold_tmp_batch_day`, `_episode_day`, `_episode`: the triples' sums per day, per
///   (day, episode) with completions, and per episode with its first and last day.
///
/// These are not `GROUP BY`s in SQL because SQLite sorts for every GROUP BY, which made this
/// step the largest of the refresh (doc/performance.md). The rows are written in key order, so the later upserts walk
/// the gold indexes in order.
enum GoldBatch {
    private typealias Triple = DayUserEpisode

    private typealias Pair = UserEpisode

    private typealias Sums = GoldBatchTables.Sums

    /// The batch of the silver events with event_id in (from, to], scanned and probed on
    /// the writer's connection (gold not yet changed by this refresh).
    static func scan(_ db: Database, after from: Int64, upTo to: Int64) throws -> GoldBatchTables {
        var tables = GoldBatchTables()
        try GoldRows.forEach(
            db,
            """
            SELECT ts, user_id, episode_id, event_type, duration FROM silver_event
            WHERE event_id > ? AND event_id <= ? AND \(GoldArithmetic.silverEventInRange)
            """, arguments: [from, to], step: "refresh_20_events (batch scan)"
        ) { handle in
            let user = tables.users.number(handle, 1)
            let episode = tables.episodes.number(handle, 2)
            tables.add(
                ts: sqlite3_column_int64(handle, 0), user: user, episode: episode,
                type: EventType(silverText: sqlite3_column_text(handle, 3)),
                duration: sqlite3_column_type(handle, 4) == SQLITE_NULL ? 0 : sqlite3_column_int64(handle, 4))
        }
        try tables.probe(db)
        return tables
    }

    /// Writes a probed batch into the temp tables. Returns its event count and first and last
    /// day.
    static func stage(_ tables: GoldBatchTables, _ db: Database) throws -> GoldRefresher.Span {
        if let key = tables.firstUnprobed { throw GoldError.batchNotProbed(key: key) }
        var users = tables.users
        var episodes = tables.episodes
        let userRank = users.ranks()
        let episodeRank = episodes.ranks()
        try db.execute(
            sql: """
                DROP TABLE IF EXISTS temp.gold_tmp_triple;
                CREATE TEMP TABLE gold_tmp_triple (
                    day INTEGER, user_id TEXT, episode_id TEXT, events INTEGER, plays INTEGER,
                    pauses INTEGER, seeks INTEGER, completions INTEGER,
                    complete_duration_sum INTEGER, listened INTEGER, old_listened INTEGER);
                DROP TABLE IF EXISTS temp.gold_tmp_pair;
                CREATE TEMP TABLE gold_tmp_pair (
                    user_id TEXT, episode_id TEXT, plays INTEGER, completions INTEGER,
                    complete_duration_sum INTEGER, old_duration_sum INTEGER);
                DROP TABLE IF EXISTS temp.gold_tmp_user_day;
                CREATE TEMP TABLE gold_tmp_user_day (
                    user_id TEXT, day INTEGER, added INTEGER, is_new INTEGER, before_count INTEGER);
                DROP TABLE IF EXISTS temp.gold_tmp_batch_day;
                CREATE TEMP TABLE gold_tmp_batch_day (
                    day INTEGER PRIMARY KEY, events INTEGER, plays INTEGER, pauses INTEGER,
                    seeks INTEGER, completions INTEGER);
                DROP TABLE IF EXISTS temp.gold_tmp_batch_episode_day;
                CREATE TEMP TABLE gold_tmp_batch_episode_day (
                    day INTEGER, episode_id TEXT, completions INTEGER);
                DROP TABLE IF EXISTS temp.gold_tmp_batch_episode;
                CREATE TEMP TABLE gold_tmp_batch_episode (
                    episode_id TEXT, plays INTEGER, pauses INTEGER, seeks INTEGER,
                    completions INTEGER, complete_duration_sum INTEGER, first_day INTEGER,
                    last_day INTEGER);
                """)

        var tripleRows: [(key: Triple, value: GoldBatchTables.TripleEntry)] = []
        tripleRows.reserveCapacity(tables.triples.count)
        tables.triples.forEach { tripleRows.append((Triple(key: $0), $1)) }
        tripleRows.sort {
            if $0.key.day != $1.key.day { return $0.key.day < $1.key.day }
            if $0.key.user != $1.key.user { return userRank[Int($0.key.user)] < userRank[Int($1.key.user)] }
            return episodeRank[Int($0.key.episode)] < episodeRank[Int($1.key.episode)]
        }
        try insert(
            tripleRows, db, parameters: 11,
            into: "temp.gold_tmp_triple"
        ) { element, statement, base in
            let sums = element.value.sums
            statement.bind(base + 1, element.key.day)
            statement.bindText(base + 2, users.texts[Int(element.key.user)])
            statement.bindText(base + 3, episodes.texts[Int(element.key.episode)])
            statement.bind(base + 4, sums.events)
            statement.bind(base + 5, sums.plays)
            statement.bind(base + 6, sums.pauses)
            statement.bind(base + 7, sums.seeks)
            statement.bind(base + 8, sums.completions)
            statement.bind(base + 9, sums.completeDurationSum)
            statement.bind(base + 10, sums.listened ? 1 : 0)
            bindProbed(statement, base + 11, element.value.oldListened)
        }

        // (user, day): in the triples' (day, user) order, the episodes each makes listened.
        var userDayRows: [(key: DayUser, added: Int64, entry: GoldBatchTables.UserDayEntry)] = []
        for (key, entry) in tripleRows {
            let added: Int64 = entry.sums.listened && entry.oldListened <= 0 ? 1 : 0
            if let last = userDayRows.last, last.key.day == key.day, last.key.user == key.user {
                userDayRows[userDayRows.count - 1].added += added
            } else {
                let userDay = DayUser(day: key.day, user: key.user)
                guard let probed = tables.userDays.value(userDay.key), probed.oldRows >= 0 else {
                    throw GoldError.batchNotProbed(key: "user \(users.texts[Int(key.user)]), day \(key.day)")
                }
                userDayRows.append((userDay, added, probed))
            }
        }
        try insert(
            userDayRows, db, parameters: 5,
            into: "temp.gold_tmp_user_day"
        ) { element, statement, base in
            statement.bindText(base + 1, users.texts[Int(element.key.user)])
            statement.bind(base + 2, element.key.day)
            statement.bind(base + 3, element.added)
            statement.bind(base + 4, element.entry.oldRows == 0 ? 1 : 0)
            statement.bind(base + 5, element.entry.oldListened)
        }

        try stageSums(tripleRows, db, episodeNames: episodes.texts, episodeRank: episodeRank)

        var pairRows: [(key: Pair, value: GoldBatchTables.PairEntry)] = []
        pairRows.reserveCapacity(tables.pairs.count)
        tables.pairs.forEach { pairRows.append((Pair(key: $0), $1)) }
        pairRows.sort {
            if $0.key.user != $1.key.user { return userRank[Int($0.key.user)] < userRank[Int($1.key.user)] }
            return episodeRank[Int($0.key.episode)] < episodeRank[Int($1.key.episode)]
        }
        try insert(
            pairRows, db, parameters: 6,
            into: "temp.gold_tmp_pair"
        ) { element, statement, base in
            statement.bindText(base + 1, users.texts[Int(element.key.user)])
            statement.bindText(base + 2, episodes.texts[Int(element.key.episode)])
            statement.bind(base + 3, element.value.sums.plays)
            statement.bind(base + 4, element.value.sums.completions)
            statement.bind(base + 5, element.value.sums.completeDurationSum)
            bindProbed(statement, base + 6, element.value.oldDurationSum)
        }
        return GoldRefresher.Span(count: tables.count, firstDay: tables.firstDay, lastDay: tables.lastDay)
    }

    /// Binds a probed value: NULL when gold had no row for the key.
    private static func bindProbed(_ statement: BulkStatement, _ index: Int32, _ value: Int64) {
        if value == GoldBatchTables.absent || value == GoldBatchTables.unknown {
            statement.bindNull(index)
        } else {
            statement.bind(index, value)
        }
    }

    /// The batch's sums per day, per (day, episode) with completions, and per episode (with
    /// its first and last day), from its (day, user, episode) sums in key order, into
    /// `gold_tmp_batch_day`, `_episode_day` and `_episode`: three `GROUP BY`s of
    /// gold_tmp_triple in SQL before (each a sort of the batch's keys).
    private static func stageSums(
        _ triples: [(key: Triple, value: GoldBatchTables.TripleEntry)], _ db: Database,
        episodeNames: [String],
        episodeRank: [Int32]
    ) throws {
        var days: [(day: Int64, sums: Sums)] = []
        var episodeDays = WordTable<Int64>(filler: 0)
        var perEpisode = [(sums: Sums, first: Int64, last: Int64)?](repeating: nil, count: episodeNames.count)
        for (key, entry) in triples {
            let sums = entry.sums
            // In key order: the days come sorted.
            if days.last?.day == key.day {
                days[days.count - 1].sums.add(sums)
            } else {
                days.append((key.day, sums))
            }
            if sums.completions > 0 {
                episodeDays.update(DayEpisode(day: key.day, episode: key.episode).key, initial: 0) {
                    $0 += sums.completions
                }
            }
            let episode = Int(key.episode)
            if var known = perEpisode[episode] {
                known.sums.add(sums)
                known.first = min(known.first, key.day)
                known.last = max(known.last, key.day)
                perEpisode[episode] = known
            } else {
                perEpisode[episode] = (sums, key.day, key.day)
            }
        }
        try insert(
            days, db, parameters: 6,
            into: "temp.gold_tmp_batch_day"
        ) { element, statement, base in
            statement.bind(base + 1, element.day)
            statement.bind(base + 2, element.sums.events)
            statement.bind(base + 3, element.sums.plays)
            statement.bind(base + 4, element.sums.pauses)
            statement.bind(base + 5, element.sums.seeks)
            statement.bind(base + 6, element.sums.completions)
        }
        var episodeDayRows: [(key: DayEpisode, completions: Int64)] = []
        episodeDayRows.reserveCapacity(episodeDays.count)
        episodeDays.forEach { episodeDayRows.append((DayEpisode(key: $0), $1)) }
        episodeDayRows.sort {
            $0.key.day != $1.key.day
                ? $0.key.day < $1.key.day
                : episodeRank[Int($0.key.episode)] < episodeRank[Int($1.key.episode)]
        }
        try insert(
            episodeDayRows, db, parameters: 3,
            into: "temp.gold_tmp_batch_episode_day"
        ) { element, statement, base in
            statement.bind(base + 1, element.key.day)
            statement.bindText(base + 2, episodeNames[Int(element.key.episode)])
            statement.bind(base + 3, element.completions)
        }
        let episodeRows = perEpisode.indices.compactMap { episode in
            perEpisode[episode].map { (episode: episode, sums: $0.sums, first: $0.first, last: $0.last) }
        }.sorted { episodeRank[$0.episode] < episodeRank[$1.episode] }
        try insert(
            episodeRows, db, parameters: 8,
            into: "temp.gold_tmp_batch_episode"
        ) { row, statement, base in
            statement.bindText(base + 1, episodeNames[row.episode])
            statement.bind(base + 2, row.sums.plays)
            statement.bind(base + 3, row.sums.pauses)
            statement.bind(base + 4, row.sums.seeks)
            statement.bind(base + 5, row.sums.completions)
            statement.bind(base + 6, row.sums.completeDurationSum)
            statement.bind(base + 7, row.first)
            statement.bind(base + 8, row.last)
        }
    }

    /// Rows per multi-row INSERT (one statement execution serves this many rows).
    private static let rowsPerInsert = 64

    /// Inserts `rows` into `table` (all its columns, `parameters` of them), `rowsPerInsert`
    /// per statement; `bind` binds a row's values from `base` + 1.
    private static func insert<Element>(
        _ rows: [Element], _ db: Database, parameters: Int, into table: String,
        bind: (Element, BulkStatement, Int32) -> Void
    ) throws {
        func sql(_ count: Int) -> String {
            "INSERT INTO \(table) VALUES \(MultiRowValues.placeholders(columns: parameters, rows: count))"
        }
        let full = try BulkStatement(db, sql: sql(rowsPerInsert))
        var start = 0
        while start < rows.count {
            let count = min(rowsPerInsert, rows.count - start)
            let statement = count == rowsPerInsert ? full : try BulkStatement(db, sql: sql(count))
            for offset in 0..<count {
                bind(rows[start + offset], statement, Int32(offset * parameters))
            }
            _ = try statement.run()
            start += count
        }
    }
}
