import Foundation
import GRDB
import Testing

@testable import PodpipeCore

/// An acknowledgement (`podpipectl ack`, migration 0009) holds for exactly the ledger row
/// version it was given for.
@Suite("ledger: acknowledgements")
struct AcknowledgementTests {
    private func rejected(_ name: String, started: String) -> LedgerEntry {
        LedgerEntry(
            fileId: nil, name: name, kind: .events, sha256: "sha-\(name)", sizeBytes: 5,
            mtime: "2024-01-01T00:00:00Z", mtimeNs: 7, state: .rejected, attempts: 1,
            startedAt: started, finishedAt: started)
    }

    private func unacknowledged(_ db: Database) throws -> [Int] {
        let counts = try Ledger.unacknowledgedCounts(db)
        return [counts.rejected, counts.failed]
    }

    @Test func aFailedFileStaysAcknowledgedAcrossRetriesUntilItsBytesChange() throws {
        let root = try TemporaryFolder("ack")
        defer { root.remove() }
        let store = try root.store()
        try store.pool.write { db in
            let candidate = Candidate(
                name: "a.ndjson", path: "/in/a.ndjson", kind: .events, gzip: false, size: 10,
                mtimeNs: 1_000_000_000)
            let failed = try Ledger.recordFailure(
                candidate, message: "cannot open", started: Date(), backoff: 30, db)
            #expect(try unacknowledged(db) == [0, 1])
            #expect(try Ledger.acknowledge(fileIds: [try #require(failed.fileId)], at: Date(), db) == 1)
            #expect(try unacknowledged(db) == [0, 0])
            // Retried and failed again: the same row, the same file: still acknowledged.
            _ = try Ledger.recordFailure(candidate, message: "cannot open", started: Date(), backoff: 30, db)
            #expect(try unacknowledged(db) == [0, 0])
            // Its bytes changed and it fails again: a new problem.
            var changed = candidate
            changed.size = 11
            _ = try Ledger.recordFailure(changed, message: "cannot open", started: Date(), backoff: 30, db)
            #expect(try unacknowledged(db) == [0, 1])
            #expect(try Ledger.problems(names: ["a.ndjson"], db).map(\.acknowledged) == [false])
        }
    }

    @Test func aNewVersionOrAReusedFileIdIsNotAcknowledged() throws {
        let root = try TemporaryFolder("ack")
        defer { root.remove() }
        let store = try root.store()
        try store.pool.write { db in
            var first = rejected("b.ndjson", started: "2024-01-01T00:00:00Z")
            try first.insert(db)
            let id = try #require(first.fileId)
            _ = try Ledger.acknowledge(fileIds: [id], at: Date(), db)
            #expect(try unacknowledged(db) == [0, 0])
            // A new version of the name (another row): a new problem.
            var second = rejected("b.ndjson", started: "2024-01-02T00:00:00Z")
            try second.insert(db)
            #expect(try unacknowledged(db) == [1, 0])
            #expect(try Ledger.problems(names: ["b.ndjson"], db).map(\.acknowledged) == [false, true])
            // Both forgotten (reprocess), and SQLite hands the first id out again to a row
            // rejected later: its acknowledgement does not carry over.
            try db.execute(sql: "DELETE FROM ingest_file")
            var reused = rejected("b.ndjson", started: "2024-01-03T00:00:00Z")
            reused.fileId = id
            try reused.insert(db)
            #expect(try unacknowledged(db) == [1, 0])
            // Acknowledging a row that is not rejected or failed does nothing.
            var loaded = rejected("c.ndjson", started: "2024-01-03T00:00:00Z")
            loaded.state = .loaded
            try loaded.insert(db)
            #expect(try Ledger.acknowledge(fileIds: [try #require(loaded.fileId)], at: Date(), db) == 0)
        }
    }
}
