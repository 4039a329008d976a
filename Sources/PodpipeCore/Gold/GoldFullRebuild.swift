import Foundation
import GRDB
import GRDBSQLite
import PodpipeRules

/// The full gold rebuild's event aggregates, computed in one sequential scan of silver with
/// memory bounded whatever the size of silver.
///
/// SQLite has no hash aggregation: every `GROUP BY` that no index serves sorts its input, and
/// those sorts were most of the set-based SQL rebuild's time (doc/performance.md). This type reads `silver_event` once
/// in rowid order (one sequential read of the table, ``silverScanSQL``), whatever the order of
/// its timestamps, and aggregates in hash tables keyed by interned user/episode numbers.
///
/// Memory: the three large keyed aggregates ((day, user, episode), (user, episode),
/// (day, episode)) are held in hash tables (``WordTable``) of at most `spillEntries` keys
/// together; when full they are handed to the writer, which sorts each in its table's
/// primary-key order and writes it to a temporary file as a sorted run (``SortedRuns``). Once
/// the scan is done, the runs of each aggregate are merged once, in key order, into its empty
/// table: every row is an append, however the spills' keys interleave (merging each spill
/// into the rows already written rewrote pages all over the table whenever silver's rows were
/// not in time order: every file of late-synced events spans the same months, issue 15). Then
/// the tables are emptied. What depends on a complete key — the distinct-user counters per day, each
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
    fileprivate typealias Triple = DayUserEpisode

    fileprivate typealias Pair = UserEpisode

    fileprivate struct PairSums {
        var plays: Int64 = 0
        var completions: Int64 = 0
        var completeDurationSum: Int64 = 0
    }

    /// One (user, episode) sum of a spill, as its sorted run stores it (32 bytes).
    fileprivate struct PairRecord {
        var pair: Pair
        var sums: PairSums
    }

    /// One (day, user, episode) key of a spill and whether it was listened to, as its sorted
    /// run stores it (24 bytes).
    fileprivate struct TripleRecord {
        var triple: Triple
        var listened: Bool
    }

    /// One (day, episode) completion count of a spill, as its sorted run stores it (24 bytes).
    fileprivate struct EpisodeDayRecord {
        var key: DayEpisode
        var completions: Int64
    }

    /// The sorted runs of the keyed aggregates, one run of each per spill, merged once at the
    /// end (see ``SortedRuns``).
    fileprivate struct SpillRuns {
        let triples: SortedRuns<TripleRecord>
        let pairs: SortedRuns<PairRecord>
        let episodeDays: SortedRuns<EpisodeDayRecord>

        init() throws {
            triples = try SortedRuns()
            pairs = try SortedRuns()
            episodeDays = try SortedRuns()
        }
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
    /// The day of the last event added and its sums, kept out of `days` while events of that
    /// day follow each other (silver is often in time order); ``settleDay()`` puts them back.
    private var currentDay: Int64?
    private var currentSums = DaySums()

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
        _ db: Database, spillEntries: Int = defaultSpillEntries, scanner: (any DatabaseReader)? = nil,
        streamed: Stream? = nil
    ) throws -> Int {
        let deferred = try dropDeferredIndexes(db)
        var rebuild: GoldFullRebuild
        // The keyed aggregates of every spill, each spill a sorted run (see SortedRuns).
        let runs: SpillRuns
        // What is left to read from silver: all of it, or the rows before the stream began.
        let upTo: Int64?
        if let streamed {
            rebuild = streamed.rebuild
            runs = streamed.runs
            upTo = streamed.start
        } else {
            rebuild = GoldFullRebuild(spillEntries: max(1, spillEntries))
            runs = try SpillRuns()
            upTo = nil
        }
        if upTo.map({ $0 > 0 }) ?? true {
            if let scanner {
                rebuild = try scanConcurrently(rebuild, upTo: upTo, scanner, writer: db, runs: runs)
            } else {
                try rebuild.scan(db, upTo: upTo) { try Self.write($0, runs) }
            }
        }
        try Self.write(rebuild.takeSpill(), runs)
        rebuild.releaseTables()
        rebuild.settleDay()
        rebuild.updateRanks()
        try rebuild.writeDayKeys(db, runs)
        let userReference = try rebuild.referenceByUser(db)
        try rebuild.deriveCohorts(db, userReference)
        try rebuild.writePairs(db, userReference, runs.pairs)
        try rebuild.writeSmallTables(db)
        try createIndexes(deferred, db)
        return rebuild.events
    }

    /// The rebuild's aggregates gathered from silver's rows as the loads inserted them
    /// (``GoldPrefetch``, on a thread of its own while the files load), so that the refresh
    /// reads only the rows from before: those with `event_id <= start`. Exactly silver's rows
    /// in (start, last event_id] were added, each once (the prefetch checks it before handing
    /// this over); rows outside gold's range were counted but not added, as the scan skips
    /// them.
    struct Stream: @unchecked Sendable {  // runs: one thread at a time, handed over (GoldPrefetch)
        fileprivate var rebuild: GoldFullRebuild
        fileprivate let runs: SpillRuns
        /// Silver's last event_id before the first row added.
        let start: Int64
        /// Silver rows added (or skipped as out of gold's range), in (start, start + rows].
        private(set) var rows: Int64 = 0

        init(start: Int64, spillEntries: Int) throws {
            self.start = start
            rebuild = GoldFullRebuild(spillEntries: max(1, spillEntries))
            runs = try SpillRuns()
        }

        /// Adds one row inserted into silver: `event` as the loader wrote it.
        mutating func add(_ event: CleanEvent) throws {
            rows += 1
            guard GoldArithmetic.inRange(ts: event.timestamp) else { return }
            let user = rebuild.userIds.number(event.userId)
            let episode = rebuild.episodeIds.number(event.episodeId)
            if rebuild.add(
                ts: event.timestamp, user: user, episode: episode, type: event.eventType,
                duration: event.duration.map(GoldArithmetic.duration))
            {
                try GoldFullRebuild.write(rebuild.takeSpill(), runs)
            }
        }
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

    /// Scans silver (the rows with `event_id <= upTo`, or all) into `initial` on another
    /// thread through `scanner`, writing each spill it hands over (at most one waits) with
    /// `writer`; returns the scan's state for the derived tables.
    private static func scanConcurrently(
        _ initial: GoldFullRebuild, upTo: Int64?, _ scanner: any DatabaseReader, writer db: Database,
        runs: SpillRuns
    ) throws -> GoldFullRebuild {
        // Whatever happens here, the scanning thread is stopped and gone before returning.
        let result = try HandOff<ScanMessage>.withProducer(
            name: "podpipe-gold-scan", capacity: 1,
            produce: { handOff in
                do {
                    let rebuild = try scanner.read { reader -> GoldFullRebuild in
                        // One sequential pass: a page cache would only hold pages never read
                        // again, and add its size to the memory peak. Restored for the
                        // connection's next user.
                        let cacheSize = try Int.fetchOne(reader, sql: "PRAGMA cache_size") ?? -2000
                        try reader.execute(sql: "PRAGMA cache_size = -256")
                        defer { try? reader.execute(sql: "PRAGMA cache_size = \(cacheSize)") }
                        var rebuild = initial
                        try rebuild.scan(reader, upTo: upTo) { spill in
                            guard handOff.put(.spill(spill)) else { throw ScanAbandoned() }
                        }
                        return rebuild
                    }
                    handOff.put(.done(rebuild))
                } catch {
                    handOff.put(.failed(error))
                }
            },
            consume: { handOff -> GoldFullRebuild? in
                while let message = handOff.take() {
                    switch message {
                    case .spill(let spill): try write(spill, runs)
                    case .done(let rebuild): return rebuild
                    case .failed(let error): throw error
                    }
                }
                return nil
            })
        if let result { return result }
        throw GoldError.stepFailed(
            step: "full rebuild (scan of silver_event)",
            underlying: DatabaseError(
                resultCode: .SQLITE_INTERRUPT, message: "the scan ended without a result"))
    }

    // MARK: - Scan

    /// All of silver that gold reads, in rowid order: one sequential read of the table,
    /// whatever the order of the timestamps (the keyed aggregates go to sorted runs, so the
    /// order of the rows does not matter to the writes). NOT INDEXED: the in-range condition
    /// on ts alone makes SQLite walk the natural-key index and look every row up in the table
    /// (a random read per row: on silver whose files each span the same months, that walk grew
    /// faster than silver, doc/performance.md).
    static let silverScanSQL = """
        SELECT ts, user_id, episode_id, event_type, duration FROM silver_event NOT INDEXED
        WHERE \(GoldArithmetic.silverEventInRange)
        """

    /// Reads silver once (all of it, or the rows with `event_id <= upTo`); hands every
    /// `spillEntries` keys to `emit` (see ``takeSpill()``).
    private mutating func scan(_ db: Database, upTo: Int64?, emit: (Spill) throws -> Void) throws {
        try GoldRows.forEach(
            db, upTo == nil ? Self.silverScanSQL : Self.silverScanSQL + " AND event_id <= ?",
            arguments: upTo.map { [$0] } ?? [], step: "full rebuild (scan of silver_event)"
        ) { handle in
            let user = userIds.number(handle, 1)
            let episode = episodeIds.number(handle, 2)
            // event_type is one of play, pause, seek, complete (CHECK constraint).
            let text = sqlite3_column_text(handle, 3)
            let first = text?[0] ?? 0
            let type: EventType =
                first == UInt8(ascii: "c")
                ? .complete
                : first == UInt8(ascii: "s")
                    ? .seek : text?[1] == UInt8(ascii: "l") ? .play : .pause
            let duration: Int64? =
                sqlite3_column_type(handle, 4) == SQLITE_NULL
                ? nil : GoldArithmetic.duration(sqlite3_column_int64(handle, 4))
            if add(
                ts: sqlite3_column_int64(handle, 0), user: user, episode: episode, type: type,
                duration: duration)
            {
                try emit(takeSpill())
            }
        }
    }

    /// Adds one silver event (in gold's range; `duration` as gold counts it). Returns whether
    /// the keyed aggregates are full: the caller then takes a spill (``takeSpill()``).
    private mutating func add(
        ts: Int64, user: Int32, episode: Int32, type: EventType, duration: Int64?
    ) -> Bool {
        events += 1
        if Int(episode) == episodes.count { episodes.append(EpisodeSums()) }
        let day = ts / 86_400  // truncates like SQLite's integer division
        let listened = type == .play || type == .complete

        triples.update(Triple(day: day, user: user, episode: episode).key, initial: false) {
            Self.or(&$0, listened)
        }

        // Silver is often in time order: keep the current day's sums out of the table.
        if day != currentDay {
            settleDay()
            currentDay = day
            currentSums = days[day] ?? DaySums()
        }
        currentSums.events += 1
        var sums = episodes[Int(episode)]
        sums.minTs = min(sums.minTs, ts)
        sums.maxTs = max(sums.maxTs, ts)
        switch type {
        case .play:
            currentSums.plays += 1
            sums.plays += 1
            pairs.update(Pair(user: user, episode: episode).key, initial: PairSums()) { $0.plays += 1 }
        case .pause:
            currentSums.pauses += 1
            sums.pauses += 1
        case .seek:
            currentSums.seeks += 1
            sums.seeks += 1
        case .complete:
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
        return triples.count + pairs.count + dayEpisodeCompletions.count >= spillEntries
    }

    /// Puts the current day's sums back into `days`.
    private mutating func settleDay() {
        if let currentDay { days[currentDay] = currentSums }
        currentDay = nil
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
        var triples: [TripleRecord]
        var pairs: [PairRecord]
        var episodeDays: [EpisodeDayRecord]
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
        var tripleRows: [TripleRecord] = []
        tripleRows.reserveCapacity(triples.count)
        triples.forEach { tripleRows.append(TripleRecord(triple: Triple(key: $0), listened: $1)) }
        triples.removeAll()
        var pairRows: [PairRecord] = []
        pairRows.reserveCapacity(pairs.count)
        pairs.forEach { pairRows.append(PairRecord(pair: Pair(key: $0), sums: $1)) }
        pairs.removeAll()
        var episodeDays: [EpisodeDayRecord] = []
        episodeDays.reserveCapacity(dayEpisodeCompletions.count)
        dayEpisodeCompletions.forEach {
            episodeDays.append(EpisodeDayRecord(key: DayEpisode(key: $0), completions: $1))
        }
        dayEpisodeCompletions.removeAll()
        return Spill(
            triples: tripleRows, pairs: pairRows, episodeDays: episodeDays,
            userNames: userIds.texts, episodeNames: episodeIds.texts, userRank: userRank,
            episodeRank: episodeRank)
    }

    /// Sorts a spill's keyed aggregates in key order and appends each as one run to `runs`
    /// (on the writer's thread: sorting there balances the two threads).
    private static func write(_ spill: Spill, _ runs: SpillRuns) throws {
        let userRank = spill.userRank
        let episodeRank = spill.episodeRank
        try runs.triples.append(sorted(spill.triples) { mergeKey($0.triple, userRank, episodeRank) })
        try runs.pairs.append(sorted(spill.pairs) { mergeKey($0.pair, userRank, episodeRank) })
        try runs.episodeDays.append(sorted(spill.episodeDays) { mergeKey($0.key, episodeRank) })
    }

    /// `records` (of distinct keys) by `key`, each key computed once.
    private static func sorted<Record>(_ records: [Record], by key: (Record) -> MergeKey) -> [Record] {
        var keyed = records.map { (key: key($0), record: $0) }
        keyed.sort { $0.key < $1.key }
        return keyed.map(\.record)
    }

    /// Merges the (day, user, episode) runs into gold_agg_day_user_episode (each key once,
    /// listened if any of its events was a play or complete) and the (day, episode) runs into
    /// gold_agg_episode_day (completions summed): in key order into the empty tables, so every
    /// row is an append, whatever the order in which silver was read. The merged keys come in
    /// (day, user) groups, from which the same pass derives the distinct-user counters of
    /// each day (``DayUserGroups``).
    private mutating func writeDayKeys(_ db: Database, _ runs: SpillRuns) throws {
        let userRank = self.userRank
        let episodeRank = self.episodeRank
        var insertTriple = try BatchInsert(
            db, into: "gold_agg_day_user_episode (day, user_id, episode_id, listened)", columns: 4)
        var groups = DayUserGroups()
        var triple: TripleRecord?
        func endTriple(_ this: inout GoldFullRebuild) throws {
            guard let record = triple else { return }
            insertTriple.append(.integer(record.triple.day))
            insertTriple.append(.text(this.userIds.texts[Int(record.triple.user)]))
            insertTriple.append(.text(this.episodeIds.texts[Int(record.triple.episode)]))
            insertTriple.append(.integer(record.listened ? 1 : 0))
            try insertTriple.endRow()
            try groups.add(record.triple, listened: record.listened, &this, db)
        }
        try runs.triples.merge(key: { Self.mergeKey($0.triple, userRank, episodeRank) }) { record in
            if let open = triple, open.triple == record.triple {
                if record.listened { triple?.listened = true }
                return
            }
            try endTriple(&self)
            triple = record
        }
        try endTriple(&self)
        try insertTriple.finish()
        try groups.finish(&self, db)

        var insertEpisodeDay = try BatchInsert(
            db, into: "gold_agg_episode_day (day, episode_id, completions)", columns: 3)
        var episodeDay: EpisodeDayRecord?
        func endEpisodeDay() throws {
            guard let record = episodeDay else { return }
            insertEpisodeDay.append(.integer(record.key.day))
            insertEpisodeDay.append(.text(episodeIds.texts[Int(record.key.episode)]))
            insertEpisodeDay.append(.integer(record.completions))
            try insertEpisodeDay.endRow()
        }
        try runs.episodeDays.merge(key: { Self.mergeKey($0.key, episodeRank) }) { record in
            if let open = episodeDay, open.key == record.key {
                episodeDay?.completions += record.completions
                return
            }
            try endEpisodeDay()
            episodeDay = record
        }
        try endEpisodeDay()
        try insertEpisodeDay.finish()
    }

    /// From the distinct (day, user, episode) keys in key order: the distinct-user counters
    /// of each day, the users with 3+ listened episodes on a day, and each user's active days
    /// (gold_agg_user_day, written in sorted runs of at most `spillEntries` rows, which bounds
    /// the memory this step holds).
    private struct DayUserGroups {
        private var current: (day: Int64, user: Int32)?
        private var listens: Int64 = 0
        private var userDays: [(user: Int32, day: Int64)] = []
        /// The counters of `current`'s day so far (keys come in day order: one day at a time).
        private var dayCounts = DayCounts()

        private struct DayCounts {
            var activeUsers: Int64 = 0
            var listeningUsers: Int64 = 0
            var multiEpisodeUsers: Int64 = 0
        }

        /// The next distinct key (in key order).
        mutating func add(_ key: Triple, listened: Bool, _ rebuild: inout GoldFullRebuild, _ db: Database)
            throws
        {
            if current?.day != key.day || current?.user != key.user {
                try endGroup(&rebuild, db)
                if let day = current?.day, day != key.day { endDay(day, &rebuild) }
                current = (key.day, key.user)
                listens = 0
            }
            if listened { listens += 1 }
        }

        /// After the last key.
        mutating func finish(_ rebuild: inout GoldFullRebuild, _ db: Database) throws {
            try endGroup(&rebuild, db)
            if let day = current?.day { endDay(day, &rebuild) }
            current = nil
            try rebuild.writeUserDays(&userDays, db)
        }

        private mutating func endGroup(_ rebuild: inout GoldFullRebuild, _ db: Database) throws {
            guard let (day, user) = current else { return }
            userDays.append((user, day))
            dayCounts.activeUsers += 1
            if listens > 0 { dayCounts.listeningUsers += 1 }
            if listens >= 3 {
                dayCounts.multiEpisodeUsers += 1
                let old = rebuild.multiDays[user]
                rebuild.multiDays[user] = ((old?.days ?? 0) + 1, min(old?.first ?? day, day))
            }
            if userDays.count >= rebuild.spillEntries { try rebuild.writeUserDays(&userDays, db) }
        }

        /// Adds the finished `day`'s counters to its sums.
        private mutating func endDay(_ day: Int64, _ rebuild: inout GoldFullRebuild) {
            var sums = rebuild.days[day, default: DaySums()]
            sums.activeUsers += dayCounts.activeUsers
            sums.listeningUsers += dayCounts.listeningUsers
            sums.multiEpisodeUsers += dayCounts.multiEpisodeUsers
            rebuild.days[day] = sums
            dayCounts = DayCounts()
        }
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

    /// The key orders of the tables, as ``MergeKey``s: gold_agg_user_episode's (user, then
    /// episode), gold_agg_day_user_episode's (day, user, episode) and gold_agg_episode_day's
    /// (day, episode), ids in the order of their bytes (their ranks). A spill's run is sorted
    /// with the ranks of its time, which order the names as the final ones do (adding names
    /// never swaps two), so runs sorted with older ranks merge with the final ones.
    @inline(__always)
    private static func mergeKey(_ pair: Pair, _ userRank: [Int32], _ episodeRank: [Int32]) -> MergeKey {
        MergeKey(high: MergeKey.pack(userRank[Int(pair.user)], episodeRank[Int(pair.episode)]))
    }

    @inline(__always)
    private static func mergeKey(_ triple: Triple, _ userRank: [Int32], _ episodeRank: [Int32]) -> MergeKey {
        MergeKey(
            high: MergeKey.ordered(triple.day),
            low: MergeKey.pack(userRank[Int(triple.user)], episodeRank[Int(triple.episode)]))
    }

    @inline(__always)
    private static func mergeKey(_ key: DayEpisode, _ episodeRank: [Int32]) -> MergeKey {
        MergeKey(
            high: MergeKey.ordered(key.day), low: UInt64(UInt32(bitPattern: episodeRank[Int(key.episode)])))
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
        try pairRuns.merge(key: { Self.mergeKey($0.pair, userRank, episodeRank) }) { record in
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
