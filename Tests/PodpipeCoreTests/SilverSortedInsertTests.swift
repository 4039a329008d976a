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

    /// A batch of `lines` texts numbered from `first`, every line valid-looking (the outcome
    /// does not matter to the merge).
    static func batch(_ texts: [String], first: Int64) -> ParsedBatch {
        var batch = ParsedBatch()
        for (offset, text) in texts.enumerated() {
            let start = batch.bytes.count
            batch.bytes.append(contentsOf: Array(text.utf8))
            batch.lines.append(
                ParsedLine(
                    lineNo: first + Int64(offset), start: start, length: text.utf8.count,
                    outcome: .invalid(EventErrors(.malformedJSON))))
        }
        return batch
    }

    static func texts(_ run: ParsedBatch) -> [String] {
        run.lines.map { line in
            String(decoding: run.bytes[line.start..<(line.start + line.length)], as: UTF8.self)
        }
    }

    @Test("runs: batches merged up to the run size, offsets rebased, then the end")
    func runs() {
        let handOff = HandOff<ParserMessage>(capacity: 64)
        let perBatch = SilverRuns.runLines / 4 + 1
        var all: [String] = []
        for b in 0..<5 {
            let texts = (0..<perBatch).map { "line \(b)-\($0)" }
            all += texts
            #expect(handOff.put(.batch(Self.batch(texts, first: Int64(b * perBatch + 1)))))
        }
        #expect(handOff.put(.end))
        var runs = SilverRuns(handOff)
        var merged: [String] = []
        var sizes: [Int] = []
        var ended = false
        while let message = runs.take() {
            switch message {
            case .batch(let run):
                #expect(!ended)
                sizes.append(run.lines.count)
                merged += Self.texts(run)
                #expect(
                    run.lines.map(\.lineNo)
                        == Array(Int64(merged.count - run.lines.count + 1)...Int64(merged.count)))
            case .end: ended = true
            case .failed(let error): Issue.record("unexpected \(error)")
            }
        }
        #expect(ended)
        #expect(merged == all)
        // Four batches reach the run size; the fifth goes out alone before the end.
        #expect(sizes == [4 * perBatch, perBatch])
    }

    @Test("runs: a failure is passed on at once, the unfinished run dropped")
    func runsFailure() {
        let handOff = HandOff<ParserMessage>(capacity: 8)
        #expect(handOff.put(.batch(Self.batch(["a", "b"], first: 1))))
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
