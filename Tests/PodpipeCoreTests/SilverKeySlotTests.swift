import Foundation
import GRDB
import PodpipeRules
import Testing

@testable import PodpipeCore

/// Issue 15: silver's unique index holds (ts, key_hash), and the full key still decides
/// what is a duplicate, through collisions and deletes (Store/SilverKeySlot.swift).
@Suite("silver: the natural key's slot (ts, key hash)")
struct SilverKeySlotTests {
    /// Two user ids whose keys (episode "e", type play) share a hash: found by search (a
    /// 31-bit hash has a pair among a few hundred thousand ids).
    static let collidingUsers: (String, String)? = {
        var seen: [Int64: String] = [:]
        for number in 0..<2_000_000 {
            let user = "u\(number)"
            let hash = SilverKeySlot.hash(userId: user, episodeId: "e", eventType: "play")
            if let other = seen[hash] { return (other, user) }
            seen[hash] = user
        }
        return nil
    }()

    static func batch(first: Int64, _ keys: [(String, Int64)?]) -> ParsedBatch {
        SilverSortedInsertTests.batch(first: first, keys)
    }

    @Test("the hash: 31 bits, every text and where it ends counts, and SQL computes the same")
    func hash() throws {
        let keys = [
            ("ab", "c", "play"), ("a", "bc", "play"), ("ab", "c", "pause"), ("", "", "seek"),
            ("ütf-8 ✓", "ep_1", "complete"), ("user_5", "ep_39", "pause"),
        ]
        let hashes = keys.map { SilverKeySlot.hash(userId: $0.0, episodeId: $0.1, eventType: $0.2) }
        #expect(hashes.allSatisfy { (0..<(1 << 31)).contains($0) })
        #expect(Set(hashes).count == keys.count)
        let queue = try DatabaseQueue()
        let fromSQL = try queue.write { db in
            SilverKeySlot.register(on: db)
            return try keys.map { key in
                try Int64.fetchOne(
                    db, sql: "SELECT podpipe_silver_key_hash(?, ?, ?)", arguments: [key.0, key.1, key.2])
            }
        }
        #expect(fromSQL == hashes)
        let none = try queue.write { db in
            try Int64.fetchOne(db, sql: "SELECT podpipe_silver_key_hash(NULL, 'e', 'play')")
        }
        #expect(none == nil)
    }

    @Test("two keys with one slot both load; each one's repeats are duplicates, in the file and later")
    func collidingKeys() throws {
        let (x, y) = try #require(Self.collidingUsers)
        let folder = try TemporaryFolder("silver-slots")
        defer { folder.remove() }
        let store = try folder.store()
        try store.pool.write { db in
            let first = try SilverSortedInsertTests.load(
                [Self.batch(first: 1, [(x, 100), (y, 100), (x, 100), (y, 100), (x, 101)])], fileId: 1,
                runCapacity: 8, db)
            #expect(first.rowsLoaded == 3)
            #expect(first.rowsDuplicate == 2)
            let rows = try Row.fetchAll(
                db, sql: "SELECT user_id, ts, key_hash, line_no FROM silver_event ORDER BY line_no")
            #expect(rows.map { $0["user_id"] as String } == [x, y, x])
            let slot = SilverKeySlot(ts: 100, userId: x, episodeId: "e", eventType: "play")
            #expect(rows.map { $0["key_hash"] as Int64? } == [slot.keyHash, nil, slot.keyHash])
            #expect(
                try Row.fetchAll(db, sql: "SELECT ts, key_hash FROM silver_event_key_collision").map {
                    SilverKeySlot(ts: $0[0], keyHash: $0[1])
                } == [slot])
            #expect(
                try String.fetchAll(db, sql: "SELECT outcome FROM bronze_event ORDER BY line_no") == [
                    "silver", "silver", "duplicate", "duplicate", "silver",
                ])
            // A later file, in runs of one: both keys are found; a third key of the second is new.
            let second = try SilverSortedInsertTests.load(
                [Self.batch(first: 1, [(y, 100), (x, 100), ("z", 100)])], fileId: 2, runCapacity: 1, db)
            #expect(second.rowsLoaded == 1)
            #expect(second.rowsDuplicate == 2)
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM silver_event") == 4)
        }
    }

    @Test("the key that held a slot is deleted: the one beside it is still found, and it comes back once")
    func deletedSlotHolder() throws {
        let (x, y) = try #require(Self.collidingUsers)
        let folder = try TemporaryFolder("silver-slot-delete")
        defer { folder.remove() }
        let store = try folder.store()
        try store.pool.write { db in
            _ = try SilverSortedInsertTests.load([Self.batch(first: 1, [(x, 100), (y, 100)])], fileId: 1, db)
            // What reprocess or revalidate may do: the slot's holder goes, the slot stays recorded.
            try db.execute(sql: "DELETE FROM silver_event WHERE user_id = ?", arguments: [x])
            let again = try SilverSortedInsertTests.load(
                [Self.batch(first: 1, [(y, 100), (x, 100), (y, 100), (x, 100)])], fileId: 2, db)
            #expect(again.rowsLoaded == 1)
            #expect(again.rowsDuplicate == 3)
            #expect(
                try String.fetchAll(db, sql: "SELECT user_id FROM silver_event ORDER BY event_id") == [y, x])
        }
    }

    @Test("migration 0014 fills the hashes of a database's rows; keys that share a slot keep apart")
    func migration() throws {
        let (x, y) = try #require(Self.collidingUsers)
        let folder = try TemporaryFolder("silver-slot-migration")
        defer { folder.remove() }
        let queue = try DatabaseQueue(path: folder.path("db.sqlite"))
        try Migrations.migrator.migrate(queue, upTo: "0013_bronze_pruned")
        try queue.write { db in
            for (user, ts) in [(x, Int64(100)), (y, 100), (y, 101), (x, 99)] {
                try db.execute(
                    sql: """
                        INSERT INTO silver_event (ts, user_id, episode_id, event_type, file_id, line_no)
                        VALUES (?, ?, 'e', 'play', 1, 1)
                        """, arguments: [ts, user])
            }
        }
        try Migrations.migrator.migrate(queue)
        try queue.close()
        let store = try Store.openForWriting(path: folder.path("db.sqlite"))
        try store.pool.write { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT user_id, ts, key_hash FROM silver_event ORDER BY event_id")
            let hashes = rows.map { row -> Int64? in row["key_hash"] }
            let slot = SilverKeySlot(ts: 100, userId: x, episodeId: "e", eventType: "play")
            #expect(hashes == [slot.keyHash, nil, slot.keyHash, slot.keyHash])
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM silver_event_key_collision") == 1)
            let counts = try SilverSortedInsertTests.load(
                [Self.batch(first: 1, [(y, 100), (x, 100), (x, 101)])], fileId: 2, db)
            #expect(counts.rowsLoaded == 1)
            #expect(counts.rowsDuplicate == 2)
        }
    }

    @Test("the dry run tells a colliding key from a duplicate of the database's")
    func dryRun() throws {
        let (x, y) = try #require(Self.collidingUsers)
        let world = try LoadedWorld()
        try world.load("a.ndjson", eventLine("play", x, "e", "2024-01-01T10:00:00", "10"))
        let path = world.directory.appendingPathComponent("b.ndjson").path
        try [
            eventLine("play", y, "e", "2024-01-01T10:00:00", "10"),  // new: the same slot as x
            eventLine("play", x, "e", "2024-01-01T10:00:00", "11"),  // in the database
            eventLine("play", y, "e", "2024-01-01T10:00:00", "12"),  // line 1's repeat
        ].joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let file = try #require(try DryRunValidator(database: world.database).run(paths: [path]).files.first)
        #expect(file.rowsLoaded == 1)
        #expect(file.rowsDuplicate == 2)
        #expect(try world.count("SELECT count(*) FROM silver_event_key_collision") == 0)
    }

    @Test(
        "revalidation's new keys follow the same rules: a taken slot, by silver or an earlier new key, goes NULL"
    )
    func revalidationInserts() throws {
        let (x, y) = try #require(Self.collidingUsers)
        let folder = try TemporaryFolder("silver-slot-revalidate")
        defer { folder.remove() }
        let store = try folder.store()
        try store.pool.write { db in
            _ = try SilverSortedInsertTests.load([Self.batch(first: 1, [(x, 100)])], fileId: 1, db)
            try db.execute(sql: try SQLResource.load("maintenance", "revalidate_events_setup"))
            // What the revalidated silver holds: x@100 (kept), y@100 (new: x holds its slot),
            // x@101 then y@101 (both new, one slot: the earlier in file order takes it).
            for (user, ts, line) in [(x, Int64(100), Int64(1)), (y, 100, 2), (x, 101, 3), (y, 101, 4)] {
                try db.execute(
                    sql: """
                        INSERT INTO temp.revalidated_event
                            (ts, user_id, episode_id, event_type, duration, file_id, line_no)
                        VALUES (?, ?, 'e', 'play', NULL, 1, ?)
                        """, arguments: [ts, user, line])
            }
            try db.execute(sql: try SQLResource.load("maintenance", "revalidate_events_apply"))
            let hash = SilverKeySlot(ts: 100, userId: x, episodeId: "e", eventType: "play").keyHash
            let rows = try Row.fetchAll(
                db, sql: "SELECT user_id, ts, key_hash FROM silver_event ORDER BY ts, line_no")
            #expect(rows.map { $0["user_id"] as String } == [x, y, x, y])
            #expect(rows.map { $0["key_hash"] as Int64? } == [hash, nil, hash, nil])
            #expect(
                try Row.fetchAll(db, sql: "SELECT ts, key_hash FROM silver_event_key_collision ORDER BY ts")
                    .map {
                        SilverKeySlot(ts: $0[0], keyHash: $0[1])
                    } == [SilverKeySlot(ts: 100, keyHash: hash), SilverKeySlot(ts: 101, keyHash: hash)])
            // Both are then found by the loader: a later file of the four is all duplicates.
            let again = try SilverSortedInsertTests.load(
                [Self.batch(first: 1, [(y, 100), (x, 101), (y, 101), (x, 100)])], fileId: 2, db)
            #expect(again.rowsLoaded == 0)
            #expect(again.rowsDuplicate == 4)
        }
    }
}
