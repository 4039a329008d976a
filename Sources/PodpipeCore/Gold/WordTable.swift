/// A hash table keyed by two 64-bit words (open addressing, linear probing), for the gold
/// aggregations' keys: interned ids, (day, user, episode), (user, episode), (day, episode).
///
/// Written by hand because `Dictionary` hashes every key with SipHash (a seeded `Hasher`
/// per lookup): on 1M events a fifth of the full rebuild's scanning thread went into
/// `Hasher` alone. Keys here are small integers packed by the caller; a multiply-xorshift
/// mix spreads them well enough for a table kept at most half full.
struct WordTable<Value: Sendable>: Sendable {
    typealias Key = WordKey

    private struct Entry: Sendable {
        var key: Key
        var value: Value
        var used: Bool
    }

    private var entries: [Entry] = []
    private var mask = 0
    /// The value of free slots (never seen by callers).
    private let filler: Value
    /// The number of keys held.
    private(set) var count = 0

    /// `filler`: any value of the type, stored in free slots.
    init(filler: Value) {
        self.filler = filler
    }

    @inline(__always)
    private static func hash(_ key: Key) -> Int {
        var h = key.a &* 0x9E37_79B9_7F4A_7C15
        h ^= (key.b &+ (h >> 29)) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
        return Int(truncatingIfNeeded: h)
    }

    /// The value of `key`, if held.
    func value(_ key: Key) -> Value? {
        guard count > 0 else { return nil }
        var slot = Self.hash(key) & mask
        while entries[slot].used {
            if entries[slot].key == key { return entries[slot].value }
            slot = (slot + 1) & mask
        }
        return nil
    }

    /// Changes the value of `key` with `body`, starting from `initial` when the key is new.
    @inline(__always)
    mutating func update(_ key: Key, initial: Value, _ body: (inout Value) -> Void) {
        if (count + 1) * 2 > entries.count { grow() }
        var slot = Self.hash(key) & mask
        while entries[slot].used {
            if entries[slot].key == key {
                body(&entries[slot].value)
                return
            }
            slot = (slot + 1) & mask
        }
        entries[slot] = Entry(key: key, value: initial, used: true)
        body(&entries[slot].value)
        count += 1
    }

    /// Every key and value, in no particular order.
    func forEach(_ body: (Key, Value) throws -> Void) rethrows {
        for entry in entries where entry.used { try body(entry.key, entry.value) }
    }

    /// Forgets every key, keeping the table's room.
    mutating func removeAll() {
        guard count > 0 else { return }
        for slot in entries.indices { entries[slot].used = false }
        count = 0
    }

    private mutating func grow() {
        let old = entries
        let capacity = max(64, entries.count * 2)
        entries = Array(repeating: Entry(key: Key(a: 0, b: 0), value: filler, used: false), count: capacity)
        mask = capacity - 1
        count = 0
        for entry in old where entry.used {
            var slot = Self.hash(entry.key) & mask
            while entries[slot].used { slot = (slot + 1) & mask }
            entries[slot] = entry
            count += 1
        }
    }
}

/// Two words: a ``WordTable`` key.
struct WordKey: Equatable, Sendable {
    var a: UInt64
    var b: UInt64
}
