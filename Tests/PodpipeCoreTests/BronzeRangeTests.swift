import Foundation
import GRDB
import Logging
import Testing

@testable import PodpipeCore

/// Migration 0004: an event file's bronze rows are found by the rowid range the ledger
/// records (bronze_first_id … bronze_last_id), not by an index on file_id.
@Suite("ledger: bronze rowid ranges (migration 0004)")
struct BronzeRangeTests {
    private func temporaryDirectory() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "podpipe-ranges-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return root
    }

    @Test func everyLoadRecordsExactlyItsRows() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = root.appendingPathComponent("in").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var modified: TimeInterval = 1_700_000_000
        func write(_ name: String, _ text: String) throws {
            let path = folder + "/" + name
            #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
            modified += 10
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSince1970: modified)], ofItemAtPath: path)
        }
        let good = (0..<300).map {
            eventLine("play", "u\($0 % 7)", "e\($0 % 5)", "2024-01-01T10:\($0 % 60):00", "10")
        }
        try write("a.ndjson", good.joined(separator: "\n"))
        try write("users.csv", "user_id,signup_date,country\nu1,2024-01-01,DE\n")
        try write("b.ndjson", "not json\nneither\n")  // rejected, its rows kept in bronze
        try write("c.ndjson", good.joined(separator: "\n"))  // duplicate of a: no rows
        try write("d.ndjson", eventLine("pause", "u1", "e1", "2024-01-02T00:00:00") + "\n\u{0}binary\n")
        try write(
            "e.ndjson",
            [eventLine("seek", "u9", "e9", "2024-01-03T00:00:00"), "{bad"].joined(separator: "\n"))

        let store = try Store.openForWriting(path: root.appendingPathComponent("db.sqlite").path)
        let pipeline = TestWriter(
            store: store, settings: PipelineSettings(dataLoad: folder), logger: Logger(label: "test"))
        let summary = try pipeline.runOnce(refreshGold: false)
        #expect(
            summary.outcomes.map(\.state) == [.loaded, .loaded, .rejected, .duplicate, .rejected, .loaded])

        let files = try store.pool.read { db in
            try LedgerEntry.fetchAll(db, sql: "SELECT * FROM ingest_file ORDER BY file_id")
        }
        var previousLast: Int64 = 0
        for file in files {
            let rows = try store.pool.read { db in
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM bronze_event WHERE file_id = ?", arguments: [file.fileId])
                    ?? -1
            }
            guard let first = file.bronzeFirstId, let last = file.bronzeLastId else {
                #expect(rows == 0, "\(file.name) has bronze rows but no range")
                continue
            }
            #expect(file.kind == .events)
            #expect(first > previousLast, "\(file.name): ranges follow each other")
            previousLast = last
            // The range holds exactly the file's rows, every one of them, and only them.
            let inRange = try store.pool.read { db in
                try Row.fetchOne(
                    db,
                    sql:
                        "SELECT count(*), sum(file_id = ?) FROM bronze_event WHERE bronze_id BETWEEN ? AND ?",
                    arguments: [file.fileId, first, last])
            }
            #expect(inRange?[0] as Int? == rows)
            #expect(inRange?[1] as Int? == rows)
            #expect(Int64(rows) == file.rowsRead)
        }
        #expect(files.compactMap(\.bronzeFirstId).count == 3)  // a, b (kept rows), e
        #expect(files.first { $0.name == "d.ndjson" }?.bronzeFirstId == nil)  // rejected midway

        // Reprocess forgets by range: a's rows go, the others stay.
        let aRows = try #require(files.first { $0.name == "a.ndjson" }).rowsRead
        let before = try store.pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT count(*) FROM bronze_event")
        }
        let plan = try store.pool.read { db in
            try Reprocessor.plan(names: ["a.ndjson"], allVersions: false, dryRun: false, in: db)
        }
        _ = try store.pool.write { db in try Reprocessor.apply(plan, in: db) }
        let after = try store.pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT count(*) FROM bronze_event")
        }
        #expect(after == (before ?? 0) - aRows)
    }

    @Test func theMigrationFindsTheRangesOfFilesLoadedBefore() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let queue = try DatabaseQueue(path: root.appendingPathComponent("db.sqlite").path)
        try Migrations.migrator.migrate(queue, upTo: "0003_daemon_state")
        try queue.write { db in
            for (id, kind) in [(1, "events"), (2, "users"), (3, "events"), (4, "events")] {
                try db.execute(
                    sql: """
                        INSERT INTO ingest_file (file_id, name, kind, sha256, size_bytes, mtime, mtime_ns, state, started_at, finished_at)
                        VALUES (?, ?, ?, ?, 1, 'x', 0, 'loaded', 'x', 'x')
                        """, arguments: [id, "f\(id)", kind, "sha\(id)"])
            }
            // File 1: ids 1-3 and, as if interleaved, 6; file 3: 4-5; file 4: none.
            for (bronzeId, fileId) in [(1, 1), (2, 1), (3, 1), (4, 3), (5, 3), (6, 1)] {
                try db.execute(
                    sql:
                        "INSERT INTO bronze_event (bronze_id, file_id, line_no, raw, outcome) VALUES (?, ?, ?, 'x', 'silver')",
                    arguments: [bronzeId, fileId, bronzeId])
            }
        }
        try Migrations.migrator.migrate(queue)
        let ranges = try queue.read { db in
            try Row.fetchAll(
                db, sql: "SELECT file_id, bronze_first_id, bronze_last_id FROM ingest_file ORDER BY file_id"
            )
            .map {
                "\($0[0] as Int64) \(($0[1] as Int64?).map(String.init) ?? "-") \(($0[2] as Int64?).map(String.init) ?? "-")"
            }
        }
        #expect(ranges == ["1 1 6", "2 - -", "3 4 5", "4 - -"])
        let index = try queue.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE name = 'bronze_event_file'")
        }
        #expect(index == 0)
        // Forgetting file 1 by its range leaves file 3's rows in the middle alone.
        try queue.write { db in
            try db.execute(sql: "CREATE TEMP TABLE reprocess_file (file_id INTEGER PRIMARY KEY)")
            try db.execute(sql: "INSERT INTO temp.reprocess_file VALUES (1)")
            try db.execute(sql: "PRAGMA foreign_keys = OFF")
            try db.execute(sql: try SQLResource.load("maintenance", "reprocess_forget"))
        }
        let left = try queue.read { db in
            try Int64.fetchAll(db, sql: "SELECT bronze_id FROM bronze_event ORDER BY 1")
        }
        #expect(left == [4, 5])
    }
}
