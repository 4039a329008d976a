import Foundation
import GRDB
import Logging
import PodpipeRules
import Testing

@testable import PodpipeCore

/// Issue 15: a run's valid rows meet silver's natural-key index in timestamp order, first row
/// wins, bronze keeps every line in file order.
@Suite("silver: rows inserted in timestamp order, runs of batches")
struct SilverSortedInsertTests {
    @Test("insertion order: valid rows by timestamp, ties in file order")
    func order() {
        #expect(SilverInsertOrder.order([5, nil, 3, 5, 3, 1]) == [5, 2, 4, 0, 3])
        #expect(SilverInsertOrder.order([nil, nil]) == [])
        #expect(SilverInsertOrder.order([7, 7, 7]) == [0, 1, 2])
    }

    @Test("insertion order: rows already in order come back as they are, sorted or not")
    func orderSorted() {
        #expect(SilverInsertOrder.order([1, nil, 2, 2, nil, 9]) == [0, 2, 3, 5])
        #expect(SilverInsertOrder.order([]) == [])
        #expect(SilverInsertOrder.order([1, 2, 1]) == [0, 2, 1])
    }

    /// A batch of `lines` texts numbered from `first`: valid lines with the given timestamps
    /// (nil: a rejected line; no timestamps: every line rejected).
    static func batch(_ texts: [String], first: Int64, timestamps: [Int64?] = []) -> ParsedBatch {
        var batch = ParsedBatch()
        for (offset, text) in texts.enumerated() {
            let start = batch.bytes.count
            batch.bytes.append(contentsOf: Array(text.utf8))
            let outcome: LineOutcome
            if offset < timestamps.count, let timestamp = timestamps[offset] {
                outcome = .valid(
                    CleanEvent(
                        userId: "u", episodeId: "e", eventType: .play, timestamp: timestamp, duration: nil))
            } else {
                outcome = .invalid(EventErrors(.malformedJSON))
            }
            batch.lines.append(
                ParsedLine(
                    lineNo: first + Int64(offset), start: start, length: text.utf8.count, outcome: outcome))
        }
        return batch
    }

    /// Every run `SilverRuns` makes of `batches`, then whether the end came last.
    static func runs(of batches: [ParsedBatch]) -> (runs: [ParsedBatch], ended: Bool) {
        let handOff = HandOff<ParserMessage>(capacity: batches.count + 1)
        for batch in batches { #expect(handOff.put(.batch(batch))) }
        #expect(handOff.put(.end))
        var runs = SilverRuns(handOff)
        var result: [ParsedBatch] = []
        var ended = false
        while let message = runs.take() {
            switch message {
            case .batch(let run):
                #expect(!ended)
                result.append(run)
            case .end: ended = true
            case .failed(let error): Issue.record("unexpected \(error)")
            }
        }
        return (result, ended)
    }

    @Test("runs: batches already in time order go out one by one, the others are merged")
    func runsInOrder() {
        let line = "x"
        // 1: in order; 2: only rejected lines; 3: in order after 1; 4: in order but starts
        // before 3 ends: a run, which takes 5 (out of order) and 6 (in order, but a run is
        // open) until the end.
        let stamps: [[Int64?]] = [[1, nil, 2], [], [2, 5], [4, 6], [9, 3], [40, 41]]
        var batches: [ParsedBatch] = []
        var next: Int64 = 1
        for batchStamps in stamps {
            let count = max(batchStamps.count, 1)
            batches.append(
                Self.batch(Array(repeating: line, count: count), first: next, timestamps: batchStamps))
            next += Int64(count)
        }
        let (runs, ended) = Self.runs(of: batches)
        #expect(ended)
        #expect(runs.map { $0.lines.map(\.lineNo) } == [[1, 2, 3], [4], [5, 6], [7, 8, 9, 10, 11, 12]])
    }

    static func texts(_ run: ParsedBatch) -> [String] {
        run.lines.map { line in
            String(decoding: run.bytes[line.start..<(line.start + line.length)], as: UTF8.self)
        }
    }

    @Test("runs: batches out of time order merged up to the run size, offsets rebased, then the end")
    func runs() {
        let perBatch = SilverRuns.runLines / 4 + 1
        var all: [String] = []
        var batches: [ParsedBatch] = []
        for b in 0..<5 {
            let texts = (0..<perBatch).map { "line \(b)-\($0)" }
            all += texts
            // Each batch in descending time order.
            let stamps = (0..<perBatch).map { Int64?(Int64(perBatch - $0)) }
            batches.append(Self.batch(texts, first: Int64(b * perBatch + 1), timestamps: stamps))
        }
        let (runs, ended) = Self.runs(of: batches)
        var merged: [String] = []
        var sizes: [Int] = []
        for run in runs {
            sizes.append(run.lines.count)
            merged += Self.texts(run)
            #expect(
                run.lines.map(\.lineNo)
                    == Array(Int64(merged.count - run.lines.count + 1)...Int64(merged.count)))
        }
        #expect(ended)
        #expect(merged == all)
        // Four batches reach the run size; the fifth goes out alone before the end.
        #expect(sizes == [4 * perBatch, perBatch])
    }

    @Test("runs: a failure is passed on at once, the unfinished run dropped")
    func runsFailure() {
        let handOff = HandOff<ParserMessage>(capacity: 8)
        // Out of time order: the batch opens a run (one in order would go out at once).
        #expect(handOff.put(.batch(Self.batch(["a", "b"], first: 1, timestamps: [2, 1]))))
        #expect(handOff.put(.failed(FileRejection.binary(line: 3))))
        var runs = SilverRuns(handOff)
        guard case .failed = runs.take() else {
            Issue.record("expected the failure")
            return
        }
        #expect(runs.take() == nil)
    }

    @Test(
        "a file in reverse time order: silver ids follow the timestamps, first row wins, bronze in file order"
    )
    func reverseOrderFile() throws {
        let folder = try TemporaryFolder("silver-sorted")
        defer { folder.remove() }
        let input = try folder.folder("in")
        let store = try folder.store()
        // 300 events, newest first; line 301 repeats the key of line 1 (another duration),
        // line 302 the key of line 150: both are duplicates of earlier lines.
        var lines: [String] = []
        for i in 0..<300 {
            let minute = 299 - i
            lines.append(
                eventLine(
                    "play", "u\(i % 7)", "e\(i % 5)",
                    String(format: "2024-02-01T%02d:%02d:00", minute / 60, minute % 60), "\(100 + i)"))
        }
        lines.append(lines[0].replacingOccurrences(of: "\"duration\": 100", with: "\"duration\": 999"))
        lines.append(lines[149])
        let path = input + "/events-0001.ndjson"
        #expect(
            FileManager.default.createFile(atPath: path, contents: Data(lines.joined(separator: "\n").utf8)))
        let pipeline = TestWriter(
            store: store, settings: PipelineSettings(dataLoad: input), logger: Logger(label: "test"))
        _ = try pipeline.runOnce()
        try store.pool.read { db in
            let silver = try Row.fetchAll(
                db, sql: "SELECT event_id, ts, line_no, duration FROM silver_event ORDER BY event_id")
            #expect(silver.count == 300)
            // Inserted in timestamp order: event_id ascends with ts (file order was descending).
            let stamps = silver.map { $0["ts"] as Int64 }
            #expect(stamps == stamps.sorted())
            #expect(silver.map { $0["line_no"] as Int64 } == Array((1...300).reversed()))
            // First row wins: line 1's duration, not line 301's.
            let first = try #require(silver.first { ($0["line_no"] as Int64) == 1 })
            #expect(first["duration"] as Int64 == 100)
            let bronze = try Row.fetchAll(
                db, sql: "SELECT line_no, outcome FROM bronze_event ORDER BY bronze_id")
            #expect(bronze.map { $0["line_no"] as Int64 } == Array(1...302))
            #expect(
                bronze.map { $0["outcome"] as String } == Array(repeating: "silver", count: 300) + [
                    "duplicate", "duplicate",
                ])
        }
    }
}
