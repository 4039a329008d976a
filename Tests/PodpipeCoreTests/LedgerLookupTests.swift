import Foundation
import GRDB
import Testing

@testable import PodpipeCore

/// The ledger's cheap look-ups that decide whether a file's bytes are hashed before its load.
@Suite("ledger: known sizes")
struct LedgerLookupTests {
    private func entry(_ name: String, size: Int64, state: LedgerState) -> LedgerEntry {
        LedgerEntry(
            fileId: nil, name: name, kind: .events, sha256: "sha-\(name)", sizeBytes: size,
            mtime: "2024-01-01T00:00:00Z", mtimeNs: 0, state: state, attempts: 1,
            startedAt: "2024-01-01T00:00:00Z", finishedAt: "2024-01-01T00:00:00Z")
    }

    /// The file being loaded has its own ledger row (same size) before the test: that row must
    /// not count, or every file is read and hashed twice.
    @Test func theFileBeingLoadedIsNotAKnownSizeButAnotherSettledFileIs() throws {
        let root = try TemporaryFolder("ledger")
        defer { root.remove() }
        let store = try root.store()
        try store.pool.write { db in
            var current = entry("new.ndjson", size: 100, state: .loaded)
            try current.insert(db)
            let id = try #require(current.fileId)
            #expect(try !Ledger.hasFile(ofSize: 100, kind: .events, other: id, db))

            var failed = entry("failed.ndjson", size: 100, state: .failed)
            try failed.insert(db)
            #expect(try !Ledger.hasFile(ofSize: 100, kind: .events, other: id, db))

            var other = entry("other.ndjson", size: 100, state: .rejected)
            try other.insert(db)
            #expect(try Ledger.hasFile(ofSize: 100, kind: .events, other: id, db))
            #expect(try !Ledger.hasFile(ofSize: 101, kind: .events, other: id, db))
            // The same size read as another kind is not a known file.
            #expect(try !Ledger.hasFile(ofSize: 100, kind: .users, other: id, db))
        }
    }
}
