import Foundation
import GRDB
import Testing

@testable import PodpipeCore

/// The writer's WAL checkpoints run on their own thread (WALCheckpointer): the database
/// file receives committed pages without the writer checkpointing, and the WAL stays bounded
/// while transactions follow each other without pause.
@Suite("store: WAL checkpoints off the writer's thread")
struct WALCheckpointerTests {
    private func withDatabase(_ body: (String) throws -> Void) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "podpipe-wal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try body(root.appendingPathComponent("db.sqlite").path)
    }

    private func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    /// One transaction of `rows` rows of ~4 KB: about one page each.
    private func writePages(_ store: Store, rows: Int, tag: Int) throws {
        try store.pool.write { db in
            for row in 0..<rows {
                try db.execute(
                    sql: "INSERT INTO scratch (tag, payload) VALUES (?, zeroblob(4000))",
                    arguments: [tag * 10_000 + row])
            }
        }
    }

    @Test func theWaitIsABoundInBytesWhateverThePageSize() {
        let bound = WALCheckpointer.defaultWaitBytes
        #expect(WALCheckpointer.frames(of: bound, pageSize: 8_192) == 16_384)
        #expect(WALCheckpointer.frames(of: bound, pageSize: 32_768) == 4_096)
        #expect(WALCheckpointer.frames(of: bound, pageSize: 65_536) == 2_048)
        // A page size SQLite never reports counts as its smallest; the result stays in range.
        #expect(WALCheckpointer.frames(of: bound, pageSize: 0) == 262_144)
        #expect(WALCheckpointer.frames(of: bound, pageSize: -1) == 262_144)
        #expect(WALCheckpointer.frames(of: 100, pageSize: 32_768) == 1)
        #expect(WALCheckpointer.frames(of: Int.max, pageSize: 512) == Int32.max)
    }

    @Test func aNewDatabaseHasLargePagesAndWaitsAtTheSameBytes() throws {
        try withDatabase { path in
            let store = try Store.openForWriting(path: path)
            let pageSize = try store.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA page_size") }
            #expect(pageSize == Store.newDatabasePageSize)
            #expect(
                store.checkpointer?.waitFramesInUse
                    == WALCheckpointer.frames(
                        of: WALCheckpointer.defaultWaitBytes, pageSize: Store.newDatabasePageSize))
        }
    }

    @Test func anOlderDatabaseKeepsItsPagesAndTheWaitFollowsThem() throws {
        try withDatabase { path in
            // A file whose page size was fixed before the larger pages: 8 KiB, WAL (switching
            // to WAL writes the header; no table yet, so podpipe takes it for its own).
            let older = try DatabaseQueue(path: path)
            try older.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA page_size = 8192")
                try db.execute(sql: "PRAGMA journal_mode = WAL")
            }
            try older.close()
            let store = try Store.openForWriting(path: path)
            let pageSize = try store.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA page_size") }
            #expect(pageSize == 8_192)
            #expect(store.checkpointer?.waitFramesInUse == 16_384)
            // Given explicitly (as the tests below do), the bound is taken as it is.
            let given = WALCheckpointer(path: path, waitFrames: 64)
            #expect(given.waitFramesInUse == 64)
        }
    }

    @Test func committedPagesReachTheDatabaseFileWithoutTheWriter() throws {
        try withDatabase { path in
            let store = try Store.openForWriting(path: path)
            try store.pool.write { db in try db.execute(sql: "CREATE TABLE scratch (tag, payload)") }
            let before = size(path)
            // 300 pages: below SQLite's own auto-checkpoint (1,000) and below the wait.
            try writePages(store, rows: 300, tag: 1)
            let deadline = Date().addingTimeInterval(10)
            // 300 rows of 4,000 bytes: at least 1.2 MB of pages, whatever the page size.
            while size(path) < before + 300 * 4_000 && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.01)
            }
            #expect(size(path) >= before + 300 * 4_000, "the checkpoint thread copied the pages")
            // Still the writer's database: the rows are there.
            let count = try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM scratch")
            }
            #expect(count == 300)
        }
    }

    @Test func theWALStaysBoundedUnderBackToBackTransactions() throws {
        try withDatabase { path in
            let store = try Store.openForWriting(path: path, checkpointWaitFrames: 64)
            try store.pool.write { db in try db.execute(sql: "CREATE TABLE scratch (tag, payload)") }
            var largest = 0
            for tag in 0..<40 {
                try writePages(store, rows: 100, tag: tag)
                largest = max(largest, size(path + "-wal"))
            }
            // Without the wait the WAL would hold all 40 transactions (40 × 100 rows of 4 KB);
            // with it, at most the 64 frames of the wait plus about two transactions.
            let pageSize = try store.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA page_size") } ?? 4096
            let frames = largest / (pageSize + 24)
            let framesPerTransaction = 100 * 4_000 / pageSize + 5
            #expect(largest > 0)
            #expect(
                frames < 64 + 3 * framesPerTransaction,
                "largest WAL: \(frames) frames of \(pageSize) bytes")
            let count = try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM scratch")
            }
            #expect(count == 4_000)
        }
    }

    @Test func aCommitToldToGoOnDoesNotWaitAndTheNextOneDoes() throws {
        try withDatabase { path in
            let store = try Store.openForWriting(path: path, checkpointWaitFrames: 64)
            let checkpointer = try #require(store.checkpointer)
            try store.pool.write { db in try db.execute(sql: "CREATE TABLE scratch (tag, payload)") }
            let before = checkpointer.commitsThatWaited
            // 1,000 rows of 4 KB: past the 64 frames of the bound whatever the page size.
            checkpointer.letTheNextCommitGoOn()
            try writePages(store, rows: 1_000, tag: 1)
            #expect(checkpointer.commitsThatWaited == before)
            // Its wait is owed: taken once, by whoever asks first.
            #expect(checkpointer.owesAWait)
            checkpointer.takeOwedWait()
            #expect(!checkpointer.owesAWait)
            #expect(checkpointer.commitsThatWaited == before + 1)
            checkpointer.takeOwedWait()
            #expect(checkpointer.commitsThatWaited == before + 1)
            try writePages(store, rows: 1_000, tag: 2)
            #expect(checkpointer.commitsThatWaited == before + 2)
            // A commit that went on, then one that waits itself: nothing is owed any more.
            checkpointer.letTheNextCommitGoOn()
            try writePages(store, rows: 1_000, tag: 3)
            try writePages(store, rows: 1_000, tag: 4)
            #expect(!checkpointer.owesAWait)
            #expect(checkpointer.commitsThatWaited == before + 3)
            checkpointer.takeOwedWait()
            #expect(checkpointer.commitsThatWaited == before + 3)
            let count = try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM scratch")
            }
            #expect(count == 4_000)
        }
    }

    @Test func everyRowSurvivesClosingAndReopening() throws {
        try withDatabase { path in
            do {
                let store = try Store.openForWriting(path: path, checkpointWaitFrames: 50)
                try store.pool.write { db in try db.execute(sql: "CREATE TABLE scratch (tag, payload)") }
                for tag in 0..<10 { try writePages(store, rows: 30, tag: tag) }
            }
            // Closed: the WAL file is kept for the next run, but the database file alone holds
            // every row (a copy of it without the WAL has them all).
            #expect(size(path + "-wal") > 0)
            let copy = path + ".copy"
            try FileManager.default.copyItem(atPath: path, toPath: copy)
            let alone = try DatabaseQueue(path: copy)
            #expect(try alone.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM scratch") } == 300)
            try alone.close()

            // Reopened: the kept WAL's old frames are not taken for transactions (its header
            // was renewed before the close): the recovery finds at most the few frames of the
            // closing transaction, and the rows are all there once.
            let store = try Store.openForWriting(path: path)
            let frames = try store.pool.writeWithoutTransaction { db in
                try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)")?[1] as Int?
            }
            #expect((frames ?? .max) <= 8)
            let count = try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM scratch")
            }
            #expect(count == 300)
        }
    }

    @Test func aWALLargerThanTheBoundIsRemovedAtClose() throws {
        try withDatabase { path in
            do {
                let store = try Store.openForWriting(path: path, keptWALBytes: 64 * 1024)
                try store.pool.write { db in try db.execute(sql: "CREATE TABLE scratch (tag, payload)") }
                for tag in 0..<10 { try writePages(store, rows: 30, tag: tag) }
            }
            // The last connection closed: SQLite checkpointed everything and removed the WAL.
            #expect(size(path + "-wal") == 0)
            let store = try Store.openForWriting(path: path)
            #expect(
                try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM scratch") } == 300
            )
        }
    }
}
