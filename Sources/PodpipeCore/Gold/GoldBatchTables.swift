import GRDB
import GRDBSQLite
import PodpipeRules

/// One batch of new silver events as the incremental refresh needs it: their sums per
/// (day, user, episode) and per (user, episode), the (user, day) pairs they fall on, and
/// gold's state for each of those keys *before* the batch, probed once per key.
///
/// Filled either on the writer from a scan of silver (``GoldBatch/stage(_:after:upTo:)``) or,
/// while the files load, on a thread of its own from the rows the loader inserted
/// (``GoldPrefetch``): the same `add` and `probe` in both. `GoldBatch` writes it into the temp
/// tables `refresh_20_events.sql` works from. Definitions as in that SQL: day = ts / 86400
/// (integer division), plays / pauses / seeks / completions count events by type,
/// complete_duration_sum sums the durations of complete events, a key is listened when it
/// has a play or a complete.
struct GoldBatchTables: Sendable {
    /// Event counts and sums of one key.
    struct Sums: Sendable {
        var events: Int64 = 0
        var plays: Int64 = 0
        var pauses: Int64 = 0
        var seeks: Int64 = 0
        var completions: Int64 = 0
        var completeDurationSum: Int64 = 0

        mutating func add(_ other: Sums) {
            events += other.events
            plays += other.plays
            pauses += other.pauses
            seeks += other.seeks
            completions += other.completions
            completeDurationSum = completeDurationSum.saturatingAdd(other.completeDurationSum)
        }

        var listened: Bool { plays + completions > 0 }
    }

    /// A (day, user, episode) key: its sums, and `listened` in gold_agg_day_user_episode
    /// before the batch (``unknown`` until probed, ``absent`` for a new key).
    struct TripleEntry: Sendable {
        var sums = Sums()
        var oldListened: Int64 = unknown
    }

    /// A (user, episode) key with a play or complete: its sums, and complete_duration_sum
    /// in gold_agg_user_episode before the batch (``unknown``, ``absent``: a new pair).
    struct PairEntry: Sendable {
        var sums = Sums()
        var oldDurationSum: Int64 = unknown
    }

    /// A (user, day) key: whether gold had any (day, user, episode) row for it before the
    /// batch, and how many of those were listened (``unknown`` until probed).
    struct UserDayEntry: Sendable {
        var oldRows: Int64 = unknown
        var oldListened: Int64 = 0
    }

    /// Not probed yet.
    static let unknown = Int64.min
    /// Probed: gold has no row for the key.
    static let absent = Int64.min + 1

    var users = IdNumbers()
    var episodes = IdNumbers()
    private(set) var triples = WordTable<TripleEntry>(filler: TripleEntry())
    private(set) var pairs = WordTable<PairEntry>(filler: PairEntry())
    private(set) var userDays = WordTable<UserDayEntry>(filler: UserDayEntry())
    /// Events added, and their first and last day.
    private(set) var count = 0
    private(set) var firstDay: Int64?
    private(set) var lastDay: Int64?
    /// Keys added since the last ``probe(_:)``.
    private var unprobedTriples: [WordKey] = []
    private var unprobedPairs: [WordKey] = []
    private var unprobedUserDays: [WordKey] = []

    /// Adds one event (user and episode numbered by ``users`` / ``episodes``).
    mutating func add(ts: Int64, user: Int32, episode: Int32, type: EventType, duration: Int64) {
        // Integer division as SQL's ts / 86400 (timestamps are never negative: SPEC §4.1).
        let day = ts / 86_400
        count += 1
        firstDay = min(firstDay ?? day, day)
        lastDay = max(lastDay ?? day, day)
        var event = Sums(events: 1)
        switch type {
        case .play: event.plays = 1
        case .pause: event.pauses = 1
        case .seek: event.seeks = 1
        case .complete:
            event.completions = 1
            event.completeDurationSum = GoldArithmetic.duration(duration)
        }
        let triple = DayUserEpisode(day: day, user: user, episode: episode).key
        let knownTriples = triples.count
        triples.update(triple, initial: TripleEntry()) { $0.sums.add(event) }
        if triples.count > knownTriples {
            unprobedTriples.append(triple)
            let userDay = DayUser(day: day, user: user).key
            let knownUserDays = userDays.count
            userDays.update(userDay, initial: UserDayEntry()) { _ in }
            if userDays.count > knownUserDays { unprobedUserDays.append(userDay) }
        }
        if event.listened {
            let pair = UserEpisode(user: user, episode: episode).key
            let knownPairs = pairs.count
            pairs.update(pair, initial: PairEntry()) { $0.sums.add(event) }
            if pairs.count > knownPairs { unprobedPairs.append(pair) }
        }
    }

    /// A key added but not probed yet (described), if any.
    var firstUnprobed: String? {
        if let key = unprobedTriples.first {
            let triple = DayUserEpisode(key: key)
            return
                "day \(triple.day), user \(users.texts[Int(triple.user)]), episode \(episodes.texts[Int(triple.episode)])"
        }
        if let key = unprobedPairs.first {
            let pair = UserEpisode(key: key)
            return "user \(users.texts[Int(pair.user)]), episode \(episodes.texts[Int(pair.episode)])"
        }
        if let key = unprobedUserDays.first {
            let userDay = DayUser(key: key)
            return "user \(users.texts[Int(userDay.user)]), day \(userDay.day)"
        }
        return nil
    }

    /// Probes gold (through `db`: the writer before the refresh writes gold, or a reader)
    /// for the keys added since the last call, ``probesPerStatement`` keys per statement
    /// (one SELECT of that many scalar subqueries, each a primary-key lookup), keys in key
    /// order so the lookups walk each index forward.
    mutating func probe(_ db: Database) throws {
        let userIds = users.texts
        let episodeIds = episodes.texts

        unprobedTriples.sort { $0.a != $1.a ? $0.a < $1.a : $0.b < $1.b }
        let listened = try Self.probe(
            unprobedTriples, db, parameters: 3,
            subquery: { p in
                "(SELECT listened FROM main.gold_agg_day_user_episode "
                    + "WHERE day = \(p(1)) AND user_id = \(p(2)) AND episode_id = \(p(3)))"
            },
            bind: { key, statement, base, texts in
                let triple = DayUserEpisode(key: key)
                statement.bind(base + 1, triple.day)
                texts.bind(statement, base + 2, userIds[Int(triple.user)])
                texts.bind(statement, base + 3, episodeIds[Int(triple.episode)])
            })
        for (key, value) in zip(unprobedTriples, listened) {
            triples.update(key, initial: TripleEntry()) { $0.oldListened = value }
        }
        unprobedTriples.removeAll()

        unprobedPairs.sort { $0.a < $1.a }
        let sums = try Self.probe(
            unprobedPairs, db, parameters: 2,
            subquery: { p in
                "(SELECT complete_duration_sum FROM main.gold_agg_user_episode "
                    + "WHERE user_id = \(p(1)) AND episode_id = \(p(2)))"
            },
            bind: { key, statement, base, texts in
                let pair = UserEpisode(key: key)
                texts.bind(statement, base + 1, userIds[Int(pair.user)])
                texts.bind(statement, base + 2, episodeIds[Int(pair.episode)])
            })
        for (key, value) in zip(unprobedPairs, sums) {
            pairs.update(key, initial: PairEntry()) { $0.oldDurationSum = value }
        }
        unprobedPairs.removeAll()

        // One range of gold_agg_day_user_episode per (day, user): its rows, and the listened
        // ones in the high word (never NULL: COUNT of no rows is 0).
        unprobedUserDays.sort { $0.a != $1.a ? $0.a < $1.a : $0.b < $1.b }
        let rows = try Self.probe(
            unprobedUserDays, db, parameters: 2,
            subquery: { p in
                "(SELECT COUNT(*) | (COALESCE(SUM(listened = 1), 0) << 32) "
                    + "FROM main.gold_agg_day_user_episode WHERE day = \(p(1)) AND user_id = \(p(2)))"
            },
            bind: { key, statement, base, texts in
                let userDay = DayUser(key: key)
                statement.bind(base + 1, userDay.day)
                texts.bind(statement, base + 2, userIds[Int(userDay.user)])
            })
        for (key, value) in zip(unprobedUserDays, rows) {
            userDays.update(key, initial: UserDayEntry()) {
                $0.oldRows = value & 0xFFFF_FFFF
                $0.oldListened = value >> 32
            }
        }
        unprobedUserDays.removeAll()
    }

    /// Keys per probing statement.
    static let probesPerStatement = 64

    /// Runs `SELECT <subquery>, <subquery>, …` over `keys`, ``probesPerStatement`` at a time
    /// (the last group padded with its last key); returns each key's value (``absent`` for
    /// NULL), in the order of `keys`.
    private static func probe(
        _ keys: [WordKey], _ db: Database, parameters: Int, subquery: ((Int) -> String) -> String,
        bind: (WordKey, BulkStatement, Int32, BoundTexts) -> Void
    ) throws -> [Int64] {
        guard let last = keys.last else { return [] }
        let width = probesPerStatement
        let sql =
            "SELECT "
            + (0..<width).map { column in subquery { "?\(column * parameters + $0)" } }
            .joined(separator: ", ")
        let statement = try BulkStatement(db, sql: sql)
        let texts = BoundTexts(capacity: 64 * width)
        var values: [Int64] = []
        values.reserveCapacity(keys.count)
        var start = 0
        while start < keys.count {
            let count = min(width, keys.count - start)
            try texts.withBound(64 * width) { texts in
                for column in 0..<width {
                    bind(
                        column < count ? keys[start + column] : last, statement, Int32(column * parameters),
                        texts)
                }
                try statement.forEachRow { handle in
                    for column in 0..<Int32(count) {
                        values.append(
                            sqlite3_column_type(handle, column) == SQLITE_NULL
                                ? absent : sqlite3_column_int64(handle, column))
                    }
                }
            }
            start += count
        }
        return values
    }
}

extension EventType {
    /// The type of silver's event_type text (play, pause, seek or complete: a CHECK
    /// constraint), read from its first two bytes.
    init(silverText text: UnsafePointer<UInt8>?) {
        let first = text?[0] ?? 0
        if first == UInt8(ascii: "c") {
            self = .complete
        } else if first == UInt8(ascii: "s") {
            self = .seek
        } else if text?[1] == UInt8(ascii: "l") {
            self = .play
        } else {
            self = .pause
        }
    }
}
