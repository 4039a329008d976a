import Foundation
import GRDB
import GRDBSQLite

/// The full gold rebuild's event aggregates, computed in one sequential scan of silver with
/// memory bounded whatever the size of silver.
///
/// SQLite has no hash aggregation: every `GROUP BY` that no index serves sorts its input, and
/// those sorts were most of the set-based SQL rebuild's time (doc/performance.md). This type reads `silver_event` once
/// (in rowid order, or in time order when silver's rowids do not follow time: ``silverScanSQL(_:)``)
/// and aggregates in hash tables keyed by interned user/episode numbers.
///
/// Memory: the three large keyed aggregates ((day, user, episode), (user, episode),
/// (day, episode)) are held in hash tables (``WordTable``) of at most `spillEntries` keys
/// together; when full they are handed to the writer, which sorts them in primary-key order:
/// the (day, …) keys are merged into the rows already written (`INSERT … ON CONFLICT DO
/// UPDATE`; silver is mostly in time order, so these are mostly appends), the (user, episode)
/// sums, which every spill spreads over the whole key space, go to a temporary file as a
/// sorted run (``SortedRuns``), merged once at the end into the empty table. Then the tables
/// are emptied. What depends on a complete key — the distinct-user counters per day, each
/// user's active days and cohorts, listeners per episode, the listen-through rate per pair —
/// is derived afterwards by streaming the written tables (or the merged runs) in key order.
/// What stays in memory grows with the number of distinct
/// users, episodes and days only (the interned names and per-episode / per-day sums), not
/// with events.
///
/// The definitions are exactly those of the tables in migration 0002 and of the incremental
/// path (`refresh_20_events.sql`), which the tests compare with this one, also with a tiny
/// `spillEntries` so that every aggregate is merged across spills.
///
/// Reads the reference snapshots `gold_ref_user` / `gold_ref_episode`, which
/// `refresh_05_full.sql` fills first.
struct GoldFullRebuild {
    private typealias Triple = DayUserEpisode

    private typealias Pair = UserEpisode

    private struct PairSums {
        var plays: Int64 = 0
        var completions: Int64 = 0
        var completeDurationSum: Int64 = 0
    }

    /// One (user, episode) sum of a spill, as its sorted run stores it (32 bytes).
    private struct PairRecord {
        var pair: Pair
        var sums: PairSums
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

    /// Keys held in memory before the keyed aggregates are written out (~40 bytes each with
    /// the hash tables' slack and the sorted copy made to write them). Larger values are no
    /// faster and raise the peak (doc/performance.md).
    static let defaultSpillEntries = 65_536  // also GoldRefresher.init's default

    let spillEntries: Int
    private var userIds = IdNumbers()
    private var episodeIds = IdNumbers()
    // Keyed by Triple.key, Pair.key, DayEpisode.key (hand-written tables: see WordTable).
    private var triples = WordTable<Bool>(filler: false)
    private var pairs = WordTable<PairSums>(filler: PairSums())
    private var dayEpisodeCompletions = WordTable<Int64>(filler: 0)
    private var episodes: [EpisodeSums] = []
    private var days: [Int64: DaySums] = [:]
    private var events = 0
    /// Ranks of the interned names in SQLite's BINARY order (as of the last spill).
    private var userRank: [Int32] = []
    private var episodeRank: [Int32] = []
    private var multiDays: [Int32: (days: Int64, first: Int64)] = [:]

    private init(spillEntries: Int) {
        self.spillEntries = spillEntries
    }

    /// Rebuilds gold_agg_day, _episode_day, _episode, _day_user_episode, _user_day,
    /// _user_episode, _multi_episode_user, _country_listen_through, _cohort_period and
    /// gold_multi_episode_users from all of silver. The tables must be empty.
    /// Returns the number of silver events read.
    ///
    /// `scanner`: when given, silver is read through one of its connections, on a thread of
    /// its own, while `db` writes the keyed aggregates of the previous spill: the scan (hashing,
    /// sorting) and SQLite's inserts overlap on two cores. Only for a transaction that has not
    /// changed silver itself: the scanner sees silver as last committed.
    static func run(
        _ db: Database, spillEntries: Int = defaultSpillEntries, scanner: (any DatabaseReader)? = nil
    ) throws -> Int {
        let deferred = try dropDeferredIndexes(db)
        var rebuild: GoldFullRebuild
        // The (user, episode) sums of every spill, each spill a sorted run (see SortedRuns).
        let pairRuns = try SortedRuns<PairRecord>()
        if let scanner {
            rebuild = try scanConcurrently(
                scanner, spillEntries: max(1, spillEntries), writer: db, pairRuns: pairRuns)
        } else {
            rebuild = GoldFullRebuild(spillEntries: max(1, spillEntries))
            try rebuild.scan(db) { try Self.write($0, db, pairRuns) }
            try Self.write(rebuild.takeSpill(), db, pairRuns)
            rebuild.releaseTables()
        }
        rebuild.updateRanks()
        try rebuild.deriveDayUsers(db)
        let userReference = try rebuild.referenceByUser(db)
        try rebuild.deriveCohorts(db, userReference)
        try rebuild.writePairs(db, userReference, pairRuns)
        try rebuild.writeSmallTables(db)
        try createIndexes(deferred, db)
        return rebuild.events
    }

    /// Secondary indexes of the tables the rebuild fills, built once at the end instead of
    /// maintained row by row (every merged pair would move its entry): the usual bulk-load
    /// order, rows first, then the index, in one sort.
    static let deferredIndexes = ["gold_agg_user_episode_completed"]

    /// Runs the index definitions with SQLite's sorter held to 2 MiB: it keeps up to the
    /// page cache's size in memory (8 MiB here), which made the index of the 1 GB file's
    /// 1.5M pairs the rebuild's memory peak. Past 2 MiB it merges runs from a temporary file.
    private static func createIndexes(_ definitions: [String], _ db: Database) throws {
        guard !definitions.isEmpty else { return }
        let cacheSize = try Int.fetchOne(db, sql: "PRAGMA cache_size") ?? -2000
        try db.execute(sql: "PRAGMA cache_size = -2048")
        defer { try? db.execute(sql: "PRAGMA cache_size = \(cacheSize)") }
        for definition in definitions { try db.execute(sql: definition) }
    }

    /// Drops the ``deferredIndexes`` and returns their definitions as stored in the schema, to
    /// be run again once the tables are full. Inside the refresh's transaction: a failure
    /// rolls the drop back with everything else.
    private static func dropDeferredIndexes(_ db: Database) throws -> [String] {
        var definitions: [String] = []
        for name in deferredIndexes {
            guard
                let sql = try String.fetchOne(
                    db, sql: "SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?",
                    arguments: [name])
            else { continue }
            try db.execute(sql: "DROP INDEX \(name)")
            definitions.append(sql)
        }
        return definitions
    }

    /// What the scanning thread hands the writer.
    private enum ScanMessage: Sendable {
        case spill(Spill)
        case done(GoldFullRebuild)
        case failed(any Error)
    }

    /// The writer stopped taking spills (it failed): the scanning thread gives up.
    private struct ScanAbandoned: Error {}

    /// Scans silver on another thread through `scanner`, writing each spill it hands over
    /// (at most one waits) with `writer`; returns the scan's state for the derived tables.
    private static func scanConcurrently(
        _ scanner: any DatabaseReader, spillEntries: Int, writer db: Database,
        pairRuns: SortedRuns<PairRecord>
    ) throws -> GoldFullRebuild {
        let handOff = HandOff<ScanMessage>(capacity: 1)
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { finished.signal() }
            do {
                let rebuild = try scanner.read { reader -> GoldFullRebuild in
                    // One sequential pass: a page cache would only hold pages never read
                    // again, and add its size to the memory peak. Restored for the
                    // connection's next user.
                    let cacheSize = try Int.fetchOne(reader, sql: "PRAGMA cache_size") ?? -2000
                    try reader.execute(sql: "PRAGMA cache_size = -256")
                    defer { try? reader.execute(sql: "PRAGMA cache_size = \(cacheSize)") }
                    var rebuild = GoldFullRebuild(spillEntries: spillEntries)
                    try rebuild.scan(reader) { spill in
                        guard handOff.put(.spill(spill)) else { throw ScanAbandoned() }
                    }
                    guard handOff.put(.spill(rebuild.takeSpill())) else { throw ScanAbandoned() }
                    rebuild.releaseTables()
                    return rebuild
                }
                handOff.put(.done(rebuild))
            } catch {
                handOff.put(.failed(error))
            }
        }
        thread.name = "podpipe-gold-scan"
        thread.start()
        // Whatever happens here, the scanning thread is stopped and gone before returning.
        defer {
            handOff.close()
            finished.wait()
        }
        while let message = handOff.take() {
            switch message {
            case .spill(let spill): try write(spill, db, pairRuns)
            case .done(let rebuild): return rebuild
            case .failed(let error): throw error
            }
        }
        throw GoldError.stepFailed(
            step: "full rebuild (scan of silver_event)",
            underlying: DatabaseError(
                resultCode: .SQLITE_INTERRUPT, message: "the scan ended without a result"))
    }

    // MARK: - Scan

    /// All of silver that gold reads, in rowid order: one sequential read of the table. NOT
    /// INDEXED: the in-range condition on ts alone makes SQLite walk the natural-key index
    /// and look every row up in the table.
    static let rowidOrderScanSQL = """
        SELECT ts, user_id, episode_id, event_type, duration FROM silver_event NOT INDEXED
        WHERE \(GoldArithmetic.silverEventInRange)
        """

    /// The same rows in time order, through the natural-key index (a table lookup per row).
    static let timeOrderScanSQL = """
        SELECT ts, user_id, episode_id, event_type, duration
        FROM silver_event INDEXED BY silver_event_natural_key
        WHERE \(GoldArithmetic.silverEventInRange) ORDER BY ts
        """

    /// Timestamps sampled along silver's rowids to choose the scan's order.
    static let orderSamples = 64

    /// The scan's SQL for this silver. Each spill's (day, …) keys are merged into the rows
    /// written before: read in time order they append, read out of it they land among the
    /// days already written, and each spill then rewrites pages all over those days (more of
    /// them as the history grows). Silver's rowid order follows time when files arrive in time
    /// order; when every file spans the same months (late syncs: issue 15) it starts over with
    /// every file. So: rowid order (cheaper to read) when ``orderSamples`` timestamps taken at
    /// even steps of event_id ascend but for at most two steps back, time order otherwise.
    static func silverScanSQL(_ db: Database) throws -> String {
        guard
            let row = try Row.fetchOne(db, sql: "SELECT min(event_id), max(event_id) FROM silver_event"),
            let first = row[0] as Int64?, let last = row[1] as Int64?, first >= 0, last > first
        else { return rowidOrderScanSQL }
        let sample = try db.makeStatement(
            sql: "SELECT ts FROM silver_event WHERE event_id >= ? ORDER BY event_id LIMIT 1")
        let step = (last - first) / Int64(orderSamples)
        var previous = Int64.min
        var stepsBack = 0
        for index in 0...Int64(orderSamples) {
            // 0 ≤ first ≤ first + index × step ≤ last: no overflow.
            guard let ts = try Int64.fetchOne(sample, arguments: [first + index * step]) else { continue }
            if ts < previous { stepsBack += 1 }
            previous = ts
        }
        return stepsBack <= 2 ? rowidOrderScanSQL : timeOrderScanSQL
    }

    /// Reads all of silver once; hands every `spillEntries` keys to `emit` (see ``takeSpill()``).
    private mutating func scan(_ db: Database, emit: (Spill) throws -> Void) throws {
        var currentDay: Int64?
        var currentSums = DaySums()
        try GoldRows.forEach(
            db, try Self.silverScanSQL(db), step: "full rebuild (scan of silver_event)"
        ) { handle in
            events += 1
            let ts = sqlite3_column_int64(handle, 0)
            let user = userIds.number(handle, 1)
            let episode = episodeIds.number(handle, 2)
            if Int(episode) == episodes.count { episodes.append(EpisodeSums()) }
            // event_type is one of play, pause, seek, complete (CHECK constraint).
            let type = sqlite3_column_text(handle, 3)
            let first = type?[0] ?? 0
            let isPlay = first == UInt8(ascii: "p") && type?[1] == UInt8(ascii: "l")
            let isPause = first == UInt8(ascii: "p") && !isPlay
            let isSeek = first == UInt8(ascii: "s")
            let isComplete = first == UInt8(ascii: "c")
            let duration: Int64? =
                sqlite3_column_type(handle, 4) == SQLITE_NULL
                ? nil : GoldArithmetic.duration(sqlite3_column_int64(handle, 4))
            let day = ts / 86_400  // truncates like SQLite's integer division
            let listened = isPlay || isComplete

            triples.update(Triple(day: day, user: user, episode: episode).key, initial: false) {
                Self.or(&$0, listened)
            }

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
                pairs.update(Pair(user: user, episode: episode).key, initial: PairSums()) { $0.plays += 1 }
            } else if isPause {
                currentSums.pauses += 1
                sums.pauses += 1
            } else if isSeek {
                currentSums.seeks += 1
                sums.seeks += 1
            } else if isComplete {
                currentSums.completions += 1
                sums.completions += 1
                sums.completeDurationSum = sums.completeDurationSum.saturatingAdd(duration ?? 0)
                pairs.update(Pair(user: user, episode: episode).key, initial: PairSums()) {
                    Self.addCompletion(to: &$0, duration: duration ?? 0)
                }
                dayEpisodeCompletions.update(DayEpisode(day: day, episode: episode).key, initial: 0) {
                    $0 += 1
                }
            }
            episodes[Int(episode)] = sums
            if triples.count + pairs.count + dayEpisodeCompletions.count >= spillEntries {
                try emit(takeSpill())
            }
        }
        if let currentDay { days[currentDay] = currentSums }
    }

    /// Frees the keyed tables' room once the last spill is taken (they keep it between
    /// spills; the derivations after the scan do not need it).
    private mutating func releaseTables() {
        triples = WordTable(filler: false)
        pairs = WordTable(filler: PairSums())
        dayEpisodeCompletions = WordTable(filler: 0)
    }

    @inline(__always)
    private static func or(_ flag: inout Bool, _ value: Bool) {
        if value { flag = true }
    }

    @inline(__always)
    private static func addCompletion(to sums: inout PairSums, duration: Int64) {
        sums.completions += 1
        sums.completeDurationSum = sums.completeDurationSum.saturatingAdd(duration)
    }

    // MARK: - Write

    /// The keyed aggregates of one spill (in no order: the writer sorts them, which
    /// balances the two threads), with the names their numbers stand for and the names'
    /// ranks (copies: the scan goes on interning while the writer binds them).
    private struct Spill: Sendable {
        var triples: [(Triple, Bool)]
        var pairs: [PairRecord]
        var episodeDays: [(DayEpisode, Int64)]
        var userNames: [String]
        var episodeNames: [String]
        var userRank: [Int32]
        var episodeRank: [Int32]
    }

    /// Ranks change only when new names were interned since they were computed.
    private mutating func updateRanks() {
        if userRank.count != userIds.texts.count { userRank = userIds.ranks() }
        if episodeRank.count != episodeIds.texts.count { episodeRank = episodeIds.ranks() }
    }

    /// Takes the keyed aggregates held in memory and empties them.
    private mutating func takeSpill() -> Spill {
        updateRanks()
        var tripleRows: [(Triple, Bool)] = []
        tripleRows.reserveCapacity(triples.count)
        triples.forEach { tripleRows.append((Triple(key: $0), $1)) }
        triples.removeAll()
        var pairRows: [PairRecord] = []
        pairRows.reserveCapacity(pairs.count)
        pairs.forEach { pairRows.append(PairRecord(pair: Pair(key: $0), sums: $1)) }
        pairs.removeAll()
        var episodeDays: [(DayEpisode, Int64)] = []
        episodeDays.reserveCapacity(dayEpisodeCompletions.count)
        dayEpisodeCompletions.forEach { episodeDays.append((DayEpisode(key: $0), $1)) }
        dayEpisodeCompletions.removeAll()
        return Spill(
            triples: tripleRows, pairs: pairRows, episodeDays: episodeDays,
            userNames: userIds.texts, episodeNames: episodeIds.texts, userRank: userRank,
            episodeRank: episodeRank)
    }

    /// Sorts a spill in key order and writes it, merged into the rows of earlier spills; its
    /// (user, episode) sums are appended to `pairRuns` as one sorted run.
    private static func write(_ spill: Spill, _ db: Database, _ pairRuns: SortedRuns<PairRecord>) throws {
        var spill = spill
        let userNames = spill.userNames
        let episodeNames = spill.episodeNames
        let userRank = spill.userRank
        let episodeRank = spill.episodeRank
        spill.triples.sort {
            if $0.0.day != $1.0.day { return $0.0.day < $1.0.day }
            if $0.0.user != $1.0.user { return userRank[Int($0.0.user)] < userRank[Int($1.0.user)] }
            return episodeRank[Int($0.0.episode)] < episodeRank[Int($1.0.episode)]
        }
        spill.pairs.sort { Self.precedes($0.pair, $1.pair, userRank, episodeRank) }
        try pairRuns.append(spill.pairs)
        spill.episodeDays.sort {
            if $0.0.day != $1.0.day { return $0.0.day < $1.0.day }
            return episodeRank[Int($0.0.episode)] < episodeRank[Int($1.0.episode)]
        }
        try BatchInsert.insertAll(
            spill.triples, db, into: "gold_agg_day_user_episode (day, user_id, episode_id, listened)",
            columns: 4,
            merge:
                "ON CONFLICT (day, user_id, episode_id) DO UPDATE SET listened = max(listened, excluded.listened)"
        ) { row, insert in
            insert.append(.integer(row.0.day))
            insert.append(.text(userNames[Int(row.0.user)]))
            insert.append(.text(episodeNames[Int(row.0.episode)]))
            insert.append(.integer(row.1 ? 1 : 0))
        }
        try BatchInsert.insertAll(
            spill.episodeDays, db, into: "gold_agg_episode_day (day, episode_id, completions)", columns: 3,
            merge:
                "ON CONFLICT (day, episode_id) DO UPDATE SET completions = completions + excluded.completions"
        ) { row, insert in
            insert.append(.integer(row.0.day))
            insert.append(.text(episodeNames[Int(row.0.episode)]))
            insert.append(.integer(row.1))
        }
    }

    /// From (day, user, episode) in key order: the distinct-user counters of each day, the
    /// users with 3+ listened episodes on a day, and each user's active days
    /// (gold_agg_user_day, written in sorted runs of at most `spillEntries` rows, which bounds
    /// the memory this step holds).
    private mutating func deriveDayUsers(_ db: Database) throws {
        var userDays: [(user: Int32, day: Int64)] = []
        var current: (day: Int64, user: Int32)?
        var listens: Int64 = 0
        func endGroup(_ this: inout GoldFullRebuild) throws {
            guard let (day, user) = current else { return }
            userDays.append((user, day))
            this.days[day, default: DaySums()].activeUsers += 1
            if listens > 0 { this.days[day, default: DaySums()].listeningUsers += 1 }
            if listens >= 3 {
                this.days[day, default: DaySums()].multiEpisodeUsers += 1
                let old = this.multiDays[user]
                this.multiDays[user] = ((old?.days ?? 0) + 1, min(old?.first ?? day, day))
            }
            if userDays.count >= this.spillEntries { try this.writeUserDays(&userDays, db) }
        }
        try GoldRows.forEach(
            db, "SELECT day, user_id, listened FROM gold_agg_day_user_episode",
            step: "full rebuild (scan of gold_agg_day_user_episode)"
        ) { handle in
            let day = sqlite3_column_int64(handle, 0)
            let user = userIds.number(handle, 1)
            if current?.day != day || current?.user != user {
                try endGroup(&self)
                current = (day, user)
                listens = 0
            }
            if sqlite3_column_int64(handle, 2) != 0 { listens += 1 }
        }
        try endGroup(&self)
        try writeUserDays(&userDays, db)
    }

    /// Writes a run of distinct (user, day) pairs in key order and empties it.
    private func writeUserDays(_ userDays: inout [(user: Int32, day: Int64)], _ db: Database) throws {
        userDays.sort {
            if $0.user != $1.user { return userRank[Int($0.user)] < userRank[Int($1.user)] }
            return $0.day < $1.day
        }
        var insertUserDay = try BatchInsert(db, into: "gold_agg_user_day (user_id, day)", columns: 2)
        for row in userDays {
            insertUserDay.append(.text(userIds.texts[Int(row.user)]))
            insertUserDay.append(.integer(row.day))
            try insertUserDay.endRow()
        }
        try insertUserDay.finish()
        userDays.removeAll(keepingCapacity: true)
    }

    /// The reference user of each interned user number (nil: not in the reference data).
    private mutating func referenceByUser(_ db: Database) throws -> [ReferenceUser?] {
        let referenceUsers = try Self.referenceUsers(db)
        return userIds.texts.map { referenceUsers[Array($0.utf8)] }
    }

    /// Cohorts: distinct (user, week N / month N after signup), days on or after signup,
    /// from each user's active days in (user, day) order.
    private mutating func deriveCohorts(_ db: Database, _ userReference: [ReferenceUser?]) throws {
        struct CohortKey: Hashable {
            var cohortMonth: String
            var isWeek: Bool
            var number: Int64
        }
        var cohorts: [CohortKey: Int64] = [:]
        var currentUser: Int32 = -1
        var lastWeek: Int64 = -1
        var lastMonth: Int64 = .min
        try GoldRows.forEach(
            db, "SELECT user_id, day FROM gold_agg_user_day", step: "full rebuild (scan of gold_agg_user_day)"
        ) { handle in
            let user = userIds.number(handle, 0)
            let day = sqlite3_column_int64(handle, 1)
            if user != currentUser {
                currentUser = user
                lastWeek = -1
                lastMonth = .min
            }
            guard Int(user) < userReference.count, let reference = userReference[Int(user)],
                day >= reference.signupDay
            else { return }
            let week = (day - reference.signupDay) / 7
            if week != lastWeek {
                lastWeek = week
                cohorts[
                    CohortKey(cohortMonth: reference.cohortMonth, isWeek: true, number: week), default: 0] +=
                    1
            }
            let (year, month, _) = GoldClock.civil(fromDays: day)
            let monthNumber = year * 12 + month - 1 - reference.signupMonthIndex
            if monthNumber != lastMonth {
                lastMonth = monthNumber
                cohorts[
                    CohortKey(cohortMonth: reference.cohortMonth, isWeek: false, number: monthNumber),
                    default: 0] += 1
            }
        }
        var insertCohort = try BatchInsert(
            db, into: "gold_agg_cohort_period (cohort_month, period, period_number, active_users)", columns: 4
        )
        for (key, users) in cohorts {
            insertCohort.append(.text(key.cohortMonth))
            insertCohort.append(.text(key.isWeek ? "week" : "month"))
            insertCohort.append(.integer(key.number))
            insertCohort.append(.integer(users))
            try insertCohort.endRow()
        }
        try insertCohort.finish()
    }

    /// Pair order: user, then episode, each by its id's bytes (gold_agg_user_episode's key).
    /// The relative order of two numbers' ranks never changes as names are added, so runs
    /// sorted with the ranks of their spill merge with the final ones.
    @inline(__always)
    private static func precedes(_ a: Pair, _ b: Pair, _ userRank: [Int32], _ episodeRank: [Int32]) -> Bool {
        if a.user != b.user { return userRank[Int(a.user)] < userRank[Int(b.user)] }
        return episodeRank[Int(a.episode)] < episodeRank[Int(b.episode)]
    }

    /// Merges the pair runs into gold_agg_user_episode (each pair once, in key order, into the
    /// empty table) and derives from the complete pairs the listeners per episode and the
    /// listen-through rate by country (rounded per pair, so only complete pair sums give it).
    private mutating func writePairs(
        _ db: Database, _ userReference: [ReferenceUser?], _ pairRuns: SortedRuns<PairRecord>
    ) throws {
        var countries: [String: (rate: Int64, completions: Int64)] = [:]
        let durations = try Dictionary(
            Row.fetchAll(db, sql: "SELECT episode_id, duration_seconds FROM gold_ref_episode")
                .map { (row: Row) -> ([UInt8], Int64) in (Array((row[0] as String).utf8), row[1]) },
            uniquingKeysWith: { first, _ in first })
        let episodeDuration = episodeIds.texts.map { durations[Array($0.utf8)] }
        let userRank = self.userRank
        let episodeRank = self.episodeRank
        var insert = try BatchInsert(
            db,
            into: "gold_agg_user_episode (user_id, episode_id, plays, completions, complete_duration_sum)",
            columns: 5)
        var current: PairRecord?
        func endPair(_ this: inout GoldFullRebuild) throws {
            guard let record = current else { return }
            let user = Int(record.pair.user)
            let episode = Int(record.pair.episode)
            let sums = record.sums
            insert.append(.text(this.userIds.texts[user]))
            insert.append(.text(this.episodeIds.texts[episode]))
            insert.append(.integer(sums.plays))
            insert.append(.integer(sums.completions))
            insert.append(.integer(sums.completeDurationSum))
            try insert.endRow()
            this.episodes[episode].listeners += 1
            if sums.completions > 0, user < userReference.count, let reference = userReference[user],
                episode < episodeDuration.count, let duration = episodeDuration[episode], duration > 0
            {
                let rate = GoldArithmetic.rateE9(sum: sums.completeDurationSum, episodeSeconds: duration)
                let old = countries[reference.country] ?? (0, 0)
                countries[reference.country] = (
                    old.rate.saturatingAdd(rate), old.completions + sums.completions
                )
            }
        }
        try pairRuns.merge(by: { Self.precedes($0.pair, $1.pair, userRank, episodeRank) }) { record in
            if let open = current, open.pair == record.pair {
                current?.sums.plays += record.sums.plays
                current?.sums.completions += record.sums.completions
                current?.sums.completeDurationSum =
                    open.sums.completeDurationSum.saturatingAdd(record.sums.completeDurationSum)
                return
            }
            try endPair(&self)
            current = record
        }
        try endPair(&self)
        try insert.finish()

        var insertCountry = try BatchInsert(
            db, into: "gold_agg_country_listen_through (country, rate_sum_e9, completions)", columns: 3)
        for (country, value) in countries.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            insertCountry.append(.text(country))
            insertCountry.append(.integer(value.rate))
            insertCountry.append(.integer(value.completions))
            try insertCountry.endRow()
        }
        try insertCountry.finish()
    }

    /// The per-day, per-user and per-episode tables (sized by days, users and episodes).
    private func writeSmallTables(_ db: Database) throws {
        var insertDay = try BatchInsert(
            db,
            into:
                "gold_agg_day (day, events, plays, pauses, seeks, completions, active_users, listening_users, multi_episode_users)",
            columns: 9)
        for (day, sums) in days.sorted(by: { $0.key < $1.key }) {
            insertDay.append(.integer(day))
            insertDay.append(.integer(sums.events))
            insertDay.append(.integer(sums.plays))
            insertDay.append(.integer(sums.pauses))
            insertDay.append(.integer(sums.seeks))
            insertDay.append(.integer(sums.completions))
            insertDay.append(.integer(sums.activeUsers))
            insertDay.append(.integer(sums.listeningUsers))
            insertDay.append(.integer(sums.multiEpisodeUsers))
            try insertDay.endRow()
        }
        try insertDay.finish()

        var insertMulti = try BatchInsert(
            db, into: "gold_agg_multi_episode_user (user_id, qualifying_days, first_day)", columns: 3)
        for (user, value) in multiDays.sorted(by: { userRank[Int($0.key)] < userRank[Int($1.key)] }) {
            insertMulti.append(.text(userIds.texts[Int(user)]))
            insertMulti.append(.integer(value.days))
            insertMulti.append(.integer(value.first))
            try insertMulti.endRow()
        }
        try insertMulti.finish()
        try db.execute(
            sql: "UPDATE gold_multi_episode_users SET users = ?", arguments: [multiDays.count])

        var insertEpisode = try BatchInsert(
            db,
            into:
                "gold_agg_episode (episode_id, plays, pauses, seeks, completions, complete_duration_sum, listeners, first_day, last_day)",
            columns: 9)
        for episode in episodes.indices.sorted(by: { episodeRank[$0] < episodeRank[$1] }) {
            let sums = episodes[episode]
            insertEpisode.append(.text(episodeIds.texts[episode]))
            insertEpisode.append(.integer(sums.plays))
            insertEpisode.append(.integer(sums.pauses))
            insertEpisode.append(.integer(sums.seeks))
            insertEpisode.append(.integer(sums.completions))
            insertEpisode.append(.integer(sums.completeDurationSum))
            insertEpisode.append(.integer(sums.listeners))
            insertEpisode.append(.integer(sums.minTs / 86_400))
            insertEpisode.append(.integer(sums.maxTs / 86_400))
            try insertEpisode.endRow()
        }
        try insertEpisode.finish()
    }

    private struct ReferenceUser {
        var country: String
        var signupDay: Int64
        var signupMonthIndex: Int64
        var cohortMonth: String
    }

    /// Keyed by the id's bytes (see `userIds`).
    private static func referenceUsers(_ db: Database) throws -> [[UInt8]: ReferenceUser] {
        var users: [[UInt8]: ReferenceUser] = [:]
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT user_id, country, signup_day, signup_month_index, cohort_month
                FROM gold_ref_user
                """)
        while let row = try rows.next() {
            users[Array((row[0] as String).utf8)] = ReferenceUser(
                country: row[1], signupDay: row[2], signupMonthIndex: row[3], cohortMonth: row[4])
        }
        return users
    }
}

/// Inserts rows with multi-row `INSERT … VALUES (…), (…), …` statements of up to 64 rows:
/// one statement execution per row costs more than the row itself (cursor opening and a seek
/// from the root on each step).
private struct BatchInsert {
    enum Value {
        case integer(Int64)
        case text(String)
    }

    static let rowsPerStatement = 64
    let db: Database
    let head: String
    let columns: Int
    let full: BulkStatement
    var values: [Value] = []

    let merge: String
    /// The texts of the statement being run, bound without SQLite's copy.
    let texts = BoundTexts()

    /// `into`: `table (column, …)`, with `columns` columns; `merge`: an `ON CONFLICT …`
    /// clause for rows whose key may already be there.
    init(_ db: Database, into head: String, columns: Int, merge: String = "") throws {
        self.db = db
        self.head = head
        self.columns = columns
        self.merge = merge
        full = try BulkStatement(
            db, sql: Self.sql(head, columns: columns, rows: Self.rowsPerStatement, merge: merge))
        values.reserveCapacity(columns * Self.rowsPerStatement)
    }

    static func sql(_ head: String, columns: Int, rows: Int, merge: String) -> String {
        "INSERT INTO \(head) VALUES \(MultiRowValues.placeholders(columns: columns, rows: rows)) \(merge)"
    }

    /// Inserts one row per element of `rows` (in their order), its values appended by `row`.
    static func insertAll<Rows: Sequence>(
        _ rows: Rows, _ db: Database, into head: String, columns: Int, merge: String = "",
        _ row: (Rows.Element, inout BatchInsert) -> Void
    ) throws {
        var insert = try BatchInsert(db, into: head, columns: columns, merge: merge)
        for element in rows {
            row(element, &insert)
            try insert.endRow()
        }
        try insert.finish()
    }

    /// Appends the next value of the current row.
    mutating func append(_ value: Value) {
        values.append(value)
    }

    /// Ends the current row (after `columns` values).
    mutating func endRow() throws {
        if values.count == columns * Self.rowsPerStatement {
            try flush(full)
        }
    }

    /// Inserts the rows still pending.
    mutating func finish() throws {
        guard !values.isEmpty else { return }
        let tail = try BulkStatement(
            db, sql: Self.sql(head, columns: columns, rows: values.count / columns, merge: merge))
        try flush(tail)
    }

    private mutating func flush(_ statement: BulkStatement) throws {
        var textBytes = 0
        for value in values {
            if case .text(let text) = value { textBytes += text.utf8.count }
        }
        try texts.withBound(textBytes) { texts in
            for (index, value) in values.enumerated() {
                switch value {
                case .integer(let number): statement.bind(Int32(index + 1), number)
                case .text(let text): texts.bind(statement, Int32(index + 1), text)
                }
            }
            _ = try statement.run()
        }
        values.removeAll(keepingCapacity: true)
    }
}
