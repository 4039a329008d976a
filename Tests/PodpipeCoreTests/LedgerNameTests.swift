import Foundation
import GRDB
import Logging
import Testing

@testable import PodpipeCore

/// File names are bytes on Linux: two names that differ only in Unicode normalization are
/// two files, and the ledger must not confuse them (Swift's `String ==` would).
@Suite("ledger: names told apart by bytes")
struct LedgerNameTests {
    @Test func namesDifferingOnlyInNormalizationAreTwoSettledFiles() throws {
        let root = try TemporaryFolder("names")
        defer { root.remove() }
        let folder = try root.folder("in")
        let composed = "caf\u{E9}.json"  // precomposed é
        let decomposed = "cafe\u{301}.json"  // e + combining acute accent
        #expect(composed == decomposed && Array(composed.utf8) != Array(decomposed.utf8))
        let line = { (user: String) in
            #"{"event_type": "play", "user_id": "\#(user)", "episode_id": "e1", "timestamp": "2024-03-01T10:00:00", "duration": 5}"#
                + "\n"
        }
        #expect(
            FileManager.default.createFile(atPath: folder + "/" + composed, contents: Data(line("u1").utf8)))
        #expect(
            FileManager.default.createFile(
                atPath: folder + "/" + decomposed, contents: Data(line("u22").utf8)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).count == 2)

        let pipeline = TestWriter(
            store: try root.store(),
            settings: PipelineSettings(dataLoad: folder), logger: Logger(label: "test"))
        let first = try pipeline.runOnce(refreshGold: false)
        #expect(first.outcomes.map(\.state) == [.loaded, .loaded])
        // Both are settled: nothing pending, and a second pass reads neither again.
        let listing = try DropFolder.list(folder)
        #expect(try pipeline.pending(in: listing, now: Date(), ignoreBackoff: true).isEmpty)
        #expect(try pipeline.runOnce(refreshGold: false).outcomes.isEmpty)
        let names = try pipeline.store.pool.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM ingest_file ORDER BY file_id")
        }
        #expect(Set(names.map { Array($0.utf8) }) == [Array(composed.utf8), Array(decomposed.utf8)])
    }
}
