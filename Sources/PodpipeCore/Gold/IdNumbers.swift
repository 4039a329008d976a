import GRDB
import GRDBSQLite

/// Text ids (users, episodes) numbered in the order they are first seen, so that the gold
/// aggregates in Swift hash small integers instead of strings (GoldFullRebuild, GoldBatch).
///
/// Keyed by the id's bytes, as SQLite's BINARY collation compares them: `String ==` is
/// Unicode canonical equivalence ("é" == "e\u{301}"), which would merge two ids SQL keeps
/// apart. Ids of up to 15 bytes (most) are packed into two words (the length in the top
/// byte), looked up in a ``WordTable``: far less than creating and hashing a `String` per row.
struct IdNumbers: Sendable {
    private var short = WordTable<Int32>(filler: 0)
    private var long: [[UInt8]: Int32] = [:]
    /// The id of each number.
    private(set) var texts: [String] = []
    /// The bytes of each number's id (for ``ranks()``).
    private var bytes: [[UInt8]] = []
    /// The numbers ranked so far, in byte order of their ids (``ranks()``).
    private var byteOrder: [Int32] = []

    /// The number of the text in `column` of the current row of `handle`.
    mutating func number(_ handle: OpaquePointer, _ column: Int32) -> Int32 {
        let bytes = sqlite3_column_text(handle, column)  // before _bytes (SQLite's advice)
        let count = Int(sqlite3_column_bytes(handle, column))
        return number(UnsafeRawBufferPointer(start: bytes, count: bytes == nil ? 0 : count))
    }

    /// The number of `text` (its UTF-8 bytes, as SQLite stores it).
    mutating func number(_ text: String) -> Int32 {
        var text = text
        return text.withUTF8 { number(UnsafeRawBufferPointer($0)) }
    }

    /// The number of the id made of `bytes`.
    mutating func number(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        let count = bytes.count
        guard count <= 15 else {
            let key = Array(bytes)
            if let number = long[key] { return number }
            long[key] = Int32(texts.count)
            return append(key)
        }
        var key = WordKey(a: 0, b: UInt64(count) << 56)
        for index in 0..<count {
            if index < 8 {
                key.a |= UInt64(bytes[index]) << (8 * UInt64(index))
            } else {
                key.b |= UInt64(bytes[index]) << (8 * UInt64(index - 8))
            }
        }
        let next = Int32(texts.count)
        var number = next
        short.update(key, initial: next) { number = $0 }
        if number != next { return number }
        return append(Array(bytes))
    }

    /// Appends the text of the number just given out.
    private mutating func append(_ bytes: [UInt8]) -> Int32 {
        texts.append(String(decoding: bytes, as: UTF8.self))
        self.bytes.append(bytes)
        return Int32(texts.count - 1)
    }

    /// Each number's rank in byte order (the tables' key order), so that rows can be written
    /// in primary-key order.
    ///
    /// The numbers ranked by an earlier call are kept in byte order: a call sorts only the
    /// numbers given since and merges them in. The full rebuild ranks at every spill, and on
    /// files where unknown ids keep turning up, sorting all ids each time was 3 % of a
    /// seed-shaped load's CPU (doc/performance.md, session 16). Ids are distinct, so the
    /// result is the full sort's.
    mutating func ranks() -> [Int32] {
        let bytes = self.bytes
        if byteOrder.count < bytes.count {
            let fresh = (byteOrder.count..<bytes.count).sorted {
                bytes[$0].lexicographicallyPrecedes(bytes[$1])
            }
            var merged: [Int32] = []
            merged.reserveCapacity(bytes.count)
            var old = 0
            for number in fresh {
                while old < byteOrder.count,
                    bytes[Int(byteOrder[old])].lexicographicallyPrecedes(bytes[number])
                {
                    merged.append(byteOrder[old])
                    old += 1
                }
                merged.append(Int32(number))
            }
            merged.append(contentsOf: byteOrder[old...])
            byteOrder = merged
        }
        var rank = [Int32](repeating: 0, count: texts.count)
        for (position, number) in byteOrder.enumerated() { rank[Int(number)] = Int32(position) }
        return rank
    }
}

/// (day, user number, episode number): the key of gold_agg_day_user_episode in Swift.
struct DayUserEpisode: Hashable, Sendable {
    var day: Int64
    var user: Int32
    var episode: Int32

    /// The key as two words (for a ``WordTable``).
    var key: WordKey {
        WordKey(
            a: UInt64(bitPattern: day),
            b: UInt64(UInt32(bitPattern: user)) << 32 | UInt64(UInt32(bitPattern: episode)))
    }

    init(day: Int64, user: Int32, episode: Int32) {
        self.day = day
        self.user = user
        self.episode = episode
    }

    init(key: WordKey) {
        day = Int64(bitPattern: key.a)
        user = Int32(bitPattern: UInt32(truncatingIfNeeded: key.b >> 32))
        episode = Int32(bitPattern: UInt32(truncatingIfNeeded: key.b))
    }
}

/// (day, episode number): the key of gold_agg_episode_day in Swift.
struct DayEpisode: Hashable, Sendable {
    var day: Int64
    var episode: Int32

    /// The key as two words (for a ``WordTable``).
    var key: WordKey { WordKey(a: UInt64(bitPattern: day), b: UInt64(UInt32(bitPattern: episode))) }

    init(day: Int64, episode: Int32) {
        self.day = day
        self.episode = episode
    }

    init(key: WordKey) {
        day = Int64(bitPattern: key.a)
        episode = Int32(bitPattern: UInt32(truncatingIfNeeded: key.b))
    }
}

/// (day, user number): the key of a batch's (user, day) pairs in Swift.
struct DayUser: Hashable, Sendable {
    var day: Int64
    var user: Int32

    /// The key as two words (for a ``WordTable``).
    var key: WordKey { WordKey(a: UInt64(bitPattern: day), b: UInt64(UInt32(bitPattern: user))) }

    init(day: Int64, user: Int32) {
        self.day = day
        self.user = user
    }

    init(key: WordKey) {
        day = Int64(bitPattern: key.a)
        user = Int32(bitPattern: UInt32(truncatingIfNeeded: key.b))
    }
}

/// (user number, episode number): the key of gold_agg_user_episode in Swift.
struct UserEpisode: Hashable, Sendable {
    var user: Int32
    var episode: Int32

    /// The key as two words (for a ``WordTable``).
    var key: WordKey {
        WordKey(a: UInt64(UInt32(bitPattern: user)) << 32 | UInt64(UInt32(bitPattern: episode)), b: 0)
    }

    init(user: Int32, episode: Int32) {
        self.user = user
        self.episode = episode
    }

    init(key: WordKey) {
        user = Int32(bitPattern: UInt32(truncatingIfNeeded: key.a >> 32))
        episode = Int32(bitPattern: UInt32(truncatingIfNeeded: key.a))
    }
}
