import GRDB

// Silver's natural key is (ts, user_id, episode_id, event_type), but its unique index holds
// (ts, key_hash): a 31-bit hash of the three text columns in place of the texts themselves
// (migration 0014). The index is what every event file's sorted run sweeps, and on files whose
// events span months that sweep touches every leaf of it (issue 15): at half the size it costs
// half the pages read, written to the WAL and checkpointed per file (doc/performance.md).
//
// The hash decides where a key lives, never whether two keys are the same. The rules, for
// every row of silver_event:
//   - a key is stored at its slot (ts, key_hash) when the slot is free; otherwise, because a
//     different key holds it (a collision), with key_hash NULL (NULLs never conflict), and
//     the slot is recorded in silver_event_key_collision;
//   - a recorded slot stays recorded (deletes by reprocess or revalidate leave it), so for a
//     slot that is not recorded, the only row that can hold a given key is the one at the slot.
// Hence the loader's test of "is this key new?": for an unrecorded slot, an INSERT OR IGNORE at
// the slot, and when it is ignored, the row there compared on the full key; for a recorded slot,
// a lookup on the full key (the index's ts prefix, then the row). Collisions are rare (two
// different keys in the same second with the same 31-bit hash) and cost only time.

/// Where a natural key lives in silver's unique index: its second and its key hash.
struct SilverKeySlot: Hashable, Sendable {
    var ts: Int64
    var keyHash: Int64

    /// The slot of an event's natural key.
    init(ts: Int64, userId: String, episodeId: String, eventType: String) {
        self.ts = ts
        self.keyHash = Self.hash(userId: userId, episodeId: episodeId, eventType: eventType)
    }

    init(ts: Int64, keyHash: Int64) {
        self.ts = ts
        self.keyHash = keyHash
    }

    /// The key hash: each text's UTF-8 read as little-endian 64-bit words (the last one
    /// zero-padded), then its length, each word mixed in by xor, a multiply and a shift, and
    /// the state folded to 31 bits: a non-negative value SQLite stores in 4 bytes. Stored in
    /// the database, so it is the same on every machine (little-endian by definition) and
    /// never changes without a migration that recomputes `key_hash`. Hand-written: no library
    /// here offers a stable (unseeded) hash, and Swift's `Hasher` is seeded per process.
    /// Eight bytes a step, not one: it runs once per event.
    static func hash(userId: String, episodeId: String, eventType: String) -> Int64 {
        var state: UInt64 = 0xcbf2_9ce4_8422_2325
        mix(&state, userId)
        mix(&state, episodeId)
        mix(&state, eventType)
        return Int64((state ^ (state >> 31) ^ (state >> 62)) & 0x7fff_ffff)
    }

    @inline(__always) private static func mix(_ state: inout UInt64, _ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset + 8 <= bytes.count {
                let word = UnsafeRawBufferPointer(bytes).loadUnaligned(
                    fromByteOffset: offset, as: UInt64.self)
                step(&state, UInt64(littleEndian: word))
                offset += 8
            }
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while offset < bytes.count {
                tail |= UInt64(bytes[offset]) << shift
                shift += 8
                offset += 1
            }
            step(&state, tail)
            step(&state, UInt64(bytes.count))
        }
    }

    @inline(__always) private static func step(_ state: inout UInt64, _ word: UInt64) {
        state = (state ^ word) &* 0x9e37_79b9_7f4a_7c15
        state ^= state >> 32
    }

    /// `podpipe_silver_key_hash(user_id, episode_id, event_type)`: the same hash in SQL, for
    /// the migration that fills `key_hash` and for revalidation's inserts. NULL if any
    /// argument is NULL.
    static let sqlFunction = DatabaseFunction(
        "podpipe_silver_key_hash", argumentCount: 3, pure: true
    ) { values in
        guard let user = String.fromDatabaseValue(values[0]),
            let episode = String.fromDatabaseValue(values[1]),
            let type = String.fromDatabaseValue(values[2])
        else { return nil }
        return hash(userId: user, episodeId: episode, eventType: type)
    }

    /// Registers ``sqlFunction`` on a connection (migrations, the writer).
    static func register(on db: Database) {
        db.add(function: sqlFunction)
    }
}
