import Foundation
import GRDB
import Logging
import PodpipeSampleData
import Testing

@testable import PodpipeCore

/// GoldPrefetch: the incremental batch gathered while event files load must be exactly what
/// a scan of silver gives, and be dropped whenever it might not be.
@Suite("gold: the batch gathered while files load (GoldPrefetch)")
struct GoldPrefetchTests {
    /// A drop folder, its database and the pipeline over them.
    private struct Drop {
        let folder: TemporaryFolder
        let input: String
        let store: Store
        var modified: TimeInterval = 1_700_000_000
        var files = 0

        init() throws {
            folder = try TemporaryFolder("prefetch")
            input = try folder.folder("in")
            store = try folder.store()
        }

        func pipeline(prefetchLimit: Int = 200_000, gold: GoldRefresher = GoldRefresher()) -> TestWriter {
            TestWriter(
                store: store, settings: PipelineSettings(dataLoad: input), logger: Logger(label: "test"),
                goldPrefetchLimit: prefetchLimit, gold: gold)
        }

        mutating func write(_ name: String, _ text: String) throws {
            try write(name, data: Data(text.utf8))
        }

        mutating func write(_ name: String, data: Data) throws {
            let path = input + "/" + name
            #expect(FileManager.default.createFile(atPath: path, contents: data))
            modified += 10
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSince1970: modified)], ofItemAtPath: path)
        }

        /// `count` random event lines (some invalid, some repeated: a few users, episodes
        /// and minutes).
        static func lines(_ count: Int, _ rng: inout SplitMix64) -> [String] {
            (0..<count).map { _ in
                if rng.next(20) == 0 { return #"{"event_type": "play", "user_id": "", "episode_id": "e1"}"# }
                let type = ["play", "pause", "seek", "complete"][Int(rng.next(4))]
                let day = 1 + Int(rng.next(28))
                let time = String(format: "%02d:%02d:00", Int(rng.next(24)), Int(rng.next(3)))
                let duration = type == "play" || type == "complete" ? "\(1 + rng.next(3000))" : "null"
                return eventLine(
                    type, "u\(rng.next(12))", "e\(rng.next(9))", String(format: "2024-02-%02dT", day) + time,
                    duration)
            }
        }

        /// An event file of `count` random lines; returns them.
        @discardableResult
        mutating func events(_ count: Int, _ rng: inout SplitMix64) throws -> [String] {
            try events(Self.lines(count, &rng))
        }

        /// An event file of `lines`.
        @discardableResult
        mutating func events(_ lines: [String]) throws -> [String] {
            files += 1
            try write(String(format: "events-%04d.ndjson", files), lines.joined(separator: "\n"))
            return lines
        }

        func goldEqualsAFullRebuild(_ context: String) throws {
            try store.pool.write { db in
                let incremental = try goldTablesSnapshot(db)
                try db.inSavepoint {
                    _ = try GoldRefresher().refresh(db, now: Date(), forceFull: true)
                    let full = try goldTablesSnapshot(db)
                    for (name, rows) in full {
                        #expect(incremental[name] == rows, "\(context): \(name) differs from a full rebuild")
                    }
                    return .rollback
                }
            }
        }
    }

    @Test("passes of event and reference files: gathered == scanned == a full rebuild", arguments: [1, 2, 3])
    func gatheredBatchesMatchAFullRebuild(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var drop = try Drop()
        defer { drop.folder.remove() }
        let pipeline = drop.pipeline()
        var earlier: [String] = []
        for pass in 0..<6 {
            for _ in 0..<(1 + rng.next(3)) {
                var lines = Drop.lines(Int(20 + rng.next(200)), &rng)
                if !earlier.isEmpty && rng.next(2) == 0 {
                    // Events loaded before (duplicates in silver: not in the batch) among new ones.
                    lines += (0..<30).map { _ in earlier[Int(rng.next(UInt64(earlier.count)))] }
                }
                earlier += try drop.events(lines)
            }
            if rng.next(3) == 0 {
                let users = (0..<12).map { "u\($0),2024-01-\(String(format: "%02d", 1 + rng.next(28))),DE" }
                try drop.write(
                    "users-\(pass).csv", "user_id,signup_date,country\n" + users.joined(separator: "\n"))
            }
            let summary = try pipeline.runOnce()
            let gold = try #require(summary.gold)
            if pass == 0 {
                #expect(gold.mode == .full)
            } else {
                #expect(gold.mode == .incremental)
                #expect(gold.gathered, "pass \(pass): the batch gathered while loading is used")
            }
            try drop.goldEqualsAFullRebuild("seed \(seed) pass \(pass)")
        }
    }

    @Test("a file whose rows were rolled back: the batch is dropped and silver is scanned")
    func aRolledBackFileDropsTheBatch() throws {
        var rng = SplitMix64(seed: 9)
        var drop = try Drop()
        defer { drop.folder.remove() }
        let pipeline = drop.pipeline()
        _ = try drop.events(100, &rng)
        #expect(try pipeline.runOnce().gold?.mode == .full)

        _ = try drop.events(100, &rng)
        try drop.write("events-cut.ndjson.gz", data: try cutGzip(drop, &rng))
        let summary = try pipeline.runOnce()
        #expect(summary.outcomes.contains { $0.name == "events-cut.ndjson.gz" && $0.state != .loaded })
        #expect(
            try drop.store.pool.read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM silver_event WHERE line_no > 4096")
            } == 0)
        #expect(summary.gold?.mode == .incremental)
        #expect(summary.gold?.gathered == false)
        try drop.goldEqualsAFullRebuild("after a rolled-back file")

        // The next pass gathers again.
        _ = try drop.events(100, &rng)
        #expect(try pipeline.runOnce().gold?.gathered == true)
        try drop.goldEqualsAFullRebuild("the pass after")
    }

    /// A gzip file cut short: its first batches of rows are inserted into silver (and handed
    /// to the gathering) before the stream ends early, and then rolled back. Rows reach silver
    /// a run at a time (SilverRun): the cut comes after the first run.
    private func cutGzip(_ drop: Drop, _ rng: inout SplitMix64) throws -> Data {
        let plain = drop.folder.path("cut.ndjson")
        let text = Drop.lines(2 * SilverRun.capacity, &rng).joined(separator: "\n")
        #expect(FileManager.default.createFile(atPath: plain, contents: Data(text.utf8)))
        let compressed = try gzip(plain)
        return compressed.prefix(compressed.count * 3 / 4)
    }

    /// `gzip -c -n path`'s output.
    private func gzip(_ path: String) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-c", "-n", path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return data
    }

    @Test("a file whose size suggests more events than the limit is not gathered; a small one is")
    func aFileTooLargeForTheBatchIsNotGathered() throws {
        var rng = SplitMix64(seed: 13)
        var drop = try Drop()
        defer { drop.folder.remove() }
        // 400 events: the limit of the pipelines below.
        let pipeline = drop.pipeline(prefetchLimit: 400)
        try drop.events(100, &rng)
        _ = try pipeline.runOnce()

        // 300 events padded to ~410 bytes a line: guessed at ~960 (128 bytes a line), over 400,
        // although they would fit.
        let padding = String(repeating: " ", count: 300)
        try drop.events(Drop.lines(300, &rng).map { "{" + padding + $0.dropFirst() })
        let large = try pipeline.runOnce()
        #expect(large.outcomes.last?.rowsLoaded ?? 0 > 250)
        #expect(large.gold?.mode == .incremental)
        #expect(large.gold?.gathered == false)
        try drop.goldEqualsAFullRebuild("after a large file")

        // 200 lines: guessed under the limit, gathered.
        try drop.events(200, &rng)
        let small = try pipeline.runOnce()
        #expect(small.gold?.gathered == true)
        try drop.goldEqualsAFullRebuild("after a small file")
    }

    @Test("loads without a refresh: the same pipeline keeps gathering; a new one (a restart) scans")
    func aBacklogIsGatheredOnlyByThePipelineThatLoadedIt() throws {
        var rng = SplitMix64(seed: 11)
        var drop = try Drop()
        defer { drop.folder.remove() }
        let first = drop.pipeline()
        _ = try drop.events(100, &rng)
        _ = try first.runOnce()

        _ = try drop.events(80, &rng)
        _ = try first.runOnce(refreshGold: false)
        _ = try drop.events(80, &rng)
        let both = try first.runOnce()
        #expect(both.gold?.gathered == true)
        #expect(both.gold?.newEvents == Int(both.gold.map { $0.toEventId - $0.fromEventId } ?? -1))
        try drop.goldEqualsAFullRebuild("two passes gathered")

        _ = try drop.events(80, &rng)
        _ = try first.runOnce(refreshGold: false)
        let restarted = drop.pipeline()
        _ = try drop.events(80, &rng)
        let summary = try restarted.runOnce()
        #expect(summary.gold?.mode == .incremental)
        #expect(summary.gold?.gathered == false)
        try drop.goldEqualsAFullRebuild("after a restart")
    }

    // MARK: - The full rebuild's aggregates gathered while the files load

    /// A refresher whose full rebuild spills every few keys, so that the aggregates gathered
    /// while loading are merged across many runs.
    private static let spilling = GoldRefresher(fullRebuildSpillEntries: 7)

    @Test(
        "a fresh load: the full rebuild takes the aggregates gathered while loading, equal to a scan",
        arguments: [4, 5])
    func aFreshLoadsRebuildIsGathered(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var drop = try Drop()
        defer { drop.folder.remove() }
        var earlier: [String] = []
        for _ in 0..<4 {
            var lines = Drop.lines(Int(50 + rng.next(200)), &rng)
            if !earlier.isEmpty {
                // Rows already in silver (duplicates: not added) among new ones.
                lines += (0..<30).map { _ in earlier[Int(rng.next(UInt64(earlier.count)))] }
            }
            earlier += try drop.events(lines)
        }
        let users = (0..<12).map { "u\($0),2024-01-\(String(format: "%02d", 1 + rng.next(28))),DE" }
        try drop.write("users.csv", "user_id,signup_date,country\n" + users.joined(separator: "\n"))
        let summary = try drop.pipeline(gold: Self.spilling).runOnce()
        let gold = try #require(summary.gold)
        #expect(gold.mode == .full)
        #expect(gold.gathered, "the rebuild's aggregates were gathered while the files loaded")
        #expect(gold.newEvents > 200)
        try drop.goldEqualsAFullRebuild("seed \(seed)")
    }

    @Test("a file rolled back mid-stream: the next file starts the stream over, the rows before are scanned")
    func aRolledBackFileRestartsTheStream() throws {
        var rng = SplitMix64(seed: 21)
        var drop = try Drop()
        defer { drop.folder.remove() }
        try drop.events(150, &rng)
        let cut = try cutGzip(drop, &rng)
        try drop.write("events-cut.ndjson.gz", data: cut)
        try drop.events(150, &rng)
        let summary = try drop.pipeline(gold: Self.spilling).runOnce()
        #expect(summary.outcomes.contains { $0.name == "events-cut.ndjson.gz" && $0.state != .loaded })
        let gold = try #require(summary.gold)
        #expect(gold.mode == .full)
        #expect(gold.gathered, "the file after the rolled-back one started the stream over")
        try drop.goldEqualsAFullRebuild("a file rolled back mid-stream")

        // The cut file last: nothing gathered is silver's, the rebuild scans it all.
        var last = try Drop()
        defer { last.folder.remove() }
        try last.events(150, &rng)
        try last.write("events-cut.ndjson.gz", data: cut)
        let scanned = try #require(try last.pipeline(gold: Self.spilling).runOnce().gold)
        #expect(scanned.mode == .full)
        #expect(!scanned.gathered)
        try last.goldEqualsAFullRebuild("a file rolled back at the end")
    }

    @Test("a group of files rolled back mid-stream or mid-batch: gold is still a full rebuild's")
    func aRolledBackGroupDropsWhatWasGathered() throws {
        var rng = SplitMix64(seed: 29)
        var drop = try Drop()
        defer { drop.folder.remove() }
        // The third file fails at its final ledger row: its group (the first two files and
        // it) is rolled back, then loaded one file per transaction.
        let third = try failAtLedgerRow(of: "events-0003.ndjson", drop.store)
        for _ in 0..<4 { try drop.events(150, &rng) }
        let pipeline = drop.pipeline(gold: Self.spilling)
        let fresh = try pipeline.runOnce()
        #expect(fresh.outcomes.map(\.state) == [.loaded, .loaded, .failed, .loaded])
        #expect(try #require(fresh.gold).mode == .full)
        try drop.goldEqualsAFullRebuild("a group rolled back during the full rebuild's stream")

        // An incremental pass: the group rolled back is the batch's.
        try drop.store.pool.write { db in try db.execute(sql: "DROP TRIGGER \(third)") }
        try failAtLedgerRow(of: "events-0006.ndjson", drop.store)
        for _ in 0..<2 { try drop.events(40, &rng) }
        let next = try pipeline.runOnce()
        #expect(next.outcomes.map(\.state) == [.loaded, .loaded, .failed])
        #expect(try #require(next.gold).mode == .incremental)
        try drop.goldEqualsAFullRebuild("a group rolled back during an incremental batch")
    }

    @Test("a backlog that passes the rebuild's threshold mid-pass: the stream starts at that file")
    func aBacklogPastTheThresholdStartsTheStreamMidPass() throws {
        var rng = SplitMix64(seed: 23)
        var drop = try Drop()
        defer { drop.folder.remove() }
        let gold = GoldRefresher(fullRebuildMinimum: 150, fullRebuildSpillEntries: 7)
        let pipeline = drop.pipeline(gold: gold)
        try drop.events(100, &rng)
        #expect(try pipeline.runOnce().gold?.mode == .full)

        // The first file's backlog is under the threshold (an incremental batch is gathered);
        // with the second's it is over: the stream begins there, after the first file's rows.
        for _ in 0..<3 { try drop.events(100, &rng) }
        let summary = try #require(try pipeline.runOnce().gold)
        #expect(summary.mode == .full)
        #expect(summary.gathered)
        try drop.goldEqualsAFullRebuild("a backlog past the threshold")

        // The next small pass is incremental again, and gathered.
        try drop.events(40, &rng)
        let next = try #require(try pipeline.runOnce().gold)
        #expect(next.mode == .incremental)
        #expect(next.gathered)
        try drop.goldEqualsAFullRebuild("the pass after")
    }
}
