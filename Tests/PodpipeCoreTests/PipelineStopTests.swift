import Foundation
import GRDB
import Logging
import Synchronization
import Testing

@testable import PodpipeCore

/// `shouldStop` (SIGTERM, and the watchdog's proof of progress) during a reference CSV:
/// asked every 4,096 records, and a stop rolls the file back so that the next pass loads it.
@Suite("pipeline: stopping in the middle of a reference file")
struct PipelineStopTests {
    /// Answers `shouldStop`: counts the calls, and says stop from call `stopAt` on.
    final class StopSwitch: Sendable {
        let calls = Mutex(0)
        let stopAt: Int

        init(stopAt: Int = .max) { self.stopAt = stopAt }

        func ask() -> Bool {
            calls.withLock {
                $0 += 1; return $0 >= stopAt
            }
        }
        var count: Int { calls.withLock { $0 } }
    }

    /// A drop folder holding a users CSV of `records` records, and a database.
    final class Folder {
        let root: URL
        var dataLoad: String { root.appendingPathComponent("data_load").path }
        var database: String { root.appendingPathComponent("podpipe.sqlite").path }

        init(records: Int) throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent(
                "podpipe-stop-\(UUID().uuidString)")
            try FileManager.default.createDirectory(atPath: dataLoad, withIntermediateDirectories: true)
            var text = "user_id,signup_date,country\n"
            for i in 0..<records { text += "user_\(i),2023-0\(1 + i % 9)-1\(i % 10),C\(i % 37)\n" }
            try text.write(toFile: dataLoad + "/users.csv", atomically: true, encoding: .utf8)
        }

        deinit { try? FileManager.default.removeItem(at: root) }

        func pipeline(_ stop: StopSwitch) throws -> TestWriter {
            TestWriter(
                store: try Store.openForWriting(path: database),
                settings: PipelineSettings(dataLoad: dataLoad), logger: Logger(label: "test"),
                shouldStop: { stop.ask() })
        }

        func count(_ table: String) throws -> Int {
            try DatabaseQueue(path: database).read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? -1
            }
        }
    }

    static let records = 20_000

    @Test func aStopRequestMidFileRollsItBackAndTheNextPassLoadsIt() throws {
        let folder = try Folder(records: Self.records)
        // Call 1 is the pass's own check before the file, 2-3 the reading of the file (one
        // 1 MiB chunk, then the end), 4 the first record: the stop comes at record 4,097.
        let stop = StopSwitch(stopAt: 5)
        #expect(throws: PipelineError.interrupted) {
            try folder.pipeline(stop).runOnce(refreshGold: false)
        }
        #expect(try folder.count("ingest_file") == 0, "nothing of the file is recorded")
        #expect(try folder.count("bronze_reference") == 0)
        #expect(try folder.count("silver_user") == 0)

        let summary = try folder.pipeline(StopSwitch()).runOnce(refreshGold: false)
        #expect(summary.outcomes.map(\.state) == [.loaded])
        #expect(summary.outcomes.first?.rowsLoaded == Int64(Self.records))
        #expect(try folder.count("silver_user") == Self.records)
    }

    @Test func theLoaderAsksEveryFewThousandRecords() throws {
        let folder = try Folder(records: Self.records)
        let never = StopSwitch()
        _ = try folder.pipeline(never).runOnce(refreshGold: false)
        // The pass (1), the chunks read (2) and one per 4,096 records (5 for 20,000); not
        // one per record.
        #expect(never.count >= 1 + 2 + (Self.records + 4095) / 4096)
        #expect(never.count < 50)
    }
}
