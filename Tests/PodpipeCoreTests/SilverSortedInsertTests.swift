import Foundation
import GRDB
import Logging
import PodpipeRules
import PodpipeSampleData
import Synchronization
import Testing

@testable import PodpipeCore

/// Issue 15: a run's valid rows meet silver's natural-key index in timestamp order, first row
/// wins, bronze keeps every line in file order with its outcome.
@Suite("silver: rows inserted in timestamp order, a run at a time")
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

    /// The order of a run sorted as packed integers (timestamp offset, position) is the one
    /// of the pairs; timestamps too far apart to pack take the pairs' way, with the same result.
    @Test(arguments: [0, 1, 2, 1_000, 131_072])
    func orderPackedAsThePairs(count: Int) {
        var rng = SplitMix64(seed: UInt64(count) + 3)
        let spans: [Int64] = [1, 120 * 86_400, Int64.max]
        for span in spans {
            let timestamps: [Int64?] = (0..<count).map { _ in
                if rng.below(10) == 0 { return nil }
                // Many ties when the span is small; both extremes of Int64 when it is not.
                let offset = Int64(truncatingIfNeeded: rng.next()) % span
                return span == Int64.max
                    ? (rng.below(2) == 0 ? Int64.min + abs(offset) : offset) : 1_700_000_000 + offset
            }
            let expected = timestamps.indices.filter { timestamps[$0] != nil }
                .sorted { (timestamps[$0] ?? 0, $0) < (timestamps[$1] ?? 0, $1) }
            #expect(SilverInsertOrder.order(timestamps) == expected, "span \(span)")
        }
    }

    /// The radix sort gives the comparison sort's order: any width of key, ties, all equal,
    /// one digit the same in every key (its pass skipped), the extremes of UInt64.
    @Test(arguments: [0, 1, 2, 3, 100, 5_000])
    func radixSortAsTheComparisonSort(count: Int) {
        var rng = SplitMix64(seed: UInt64(count) + 11)
        for bits in [1, 11, 12, 22, 41, 63, 64] {
            var keys = (0..<count).map { _ in rng.next() >> UInt64(64 - bits) }
            if bits == 41 { keys = keys.map { $0 & ~(0x7FF << 11) } }  // the middle digit: all 0
            if count > 2 { keys[0] = 0 }
            if count > 2, bits == 64 { keys[1] = .max }
            let expected = keys.sorted()
            RadixSort.sort(&keys)
            #expect(keys == expected, "\(count) keys of \(bits) bits")
        }
        var same = [UInt64](repeating: 77, count: count)
        RadixSort.sort(&same)
        #expect(same == [UInt64](repeating: 77, count: count))
    }

    /// What the writer told its observer: each run's rows (line numbers) and which were new.
    final class RunRecorder: IngestObserver {
        let runs = Mutex<[(lines: [Int64], inserted: [Bool])]>([])
        func eventFileBegins(silverLast: Int64, expectedEvents: Int64, _ db: Database) throws {}
        func eventRowsInserted(_ rows: [SilverRow], inserted: [Bool]) {
            runs.withLock { $0.append((rows.map(\.lineNo), inserted)) }
        }
        func fileRolledBack() {}
        func fileCommitted() {}
    }

    /// A batch of lines numbered from `first`: a key ("A"...) and timestamp for a valid line,
    /// nil for a rejected one.
    static func batch(first: Int64, _ keys: [(String, Int64)?]) -> ParsedBatch {
        var batch = ParsedBatch()
        for (offset, key) in keys.enumerated() {
            let text = key.map { "\($0.0)@\($0.1)" } ?? "{nope"
            let start = batch.bytes.count
            batch.bytes.append(contentsOf: Array(text.utf8))
            let outcome: LineOutcome =
                if let key {
                    .valid(
                        CleanEvent(
                            userId: key.0, episodeId: "e", eventType: .play, timestamp: key.1, duration: nil))
                } else {
                    .invalid(EventErrors(.malformedJSON))
                }
            batch.lines.append(
                ParsedLine(
                    lineNo: first + Int64(offset), start: start, length: text.utf8.count, outcome: outcome))
        }
        return batch
    }

    /// What the parser thread hands over for `batches`: each batch, then the silver run it
    /// completed (runs of `runCapacity` rows), the last run, the end.
    static func messages(_ batches: [ParsedBatch], runCapacity: Int) -> [ParserMessage] {
        var run = SilverRun(capacity: runCapacity)
        var messages: [ParserMessage] = []
        for batch in batches {
            messages.append(.batch(batch))
            if let rows = run.add(batch) { messages.append(.run(rows, last: false)) }
        }
        if let rows = run.finish() { messages.append(.run(rows, last: true)) }
        return messages + [.end]
    }

    @Test("a run is handed over after the batch that fills it, in insertion order, with its lines' places")
    func runsGatheredByTheParser() {
        let batches = [
            Self.batch(first: 1, [("A", 50), nil, ("B", 10)]),
            Self.batch(first: 4, [("C", 30), ("A", 50)]),
            Self.batch(first: 6, [("B", 10), ("D", 5)]),
        ]
        let kinds = Self.messages(batches, runCapacity: 4).map { message -> String in
            switch message {
            case .batch(let batch): "batch \(batch.lines.first?.lineNo ?? 0)"
            case .run(let rows, let last):
                (last ? "last run " : "run ")
                    + rows.map { "\($0.lineNo)@\($0.position)" }.joined(separator: ",")
            case .end: "end"
            case .failed: "failed"
            }
        }
        // Lines 1, 3, 4, 5 fill the first run (timestamps 50, 10, 30, 50: B, C, A, A again);
        // lines 6 and 7 are the last. A line's place counts every line, the rejected one too.
        #expect(kinds == ["batch 1", "batch 4", "run 3@2,4@3,1@0,5@4", "batch 6", "last run 7@6,6@5", "end"])
    }

    @Test(
        "runs smaller than the file: duplicates within and across runs go to bronze as such, first row wins")
    func runsAcrossAFile() throws {
        let folder = try TemporaryFolder("silver-runs")
        defer { folder.remove() }
        let store = try folder.store()
        let handOff = HandOff<ParserMessage>(capacity: 8)
        // Run 1 (lines 1-5, four valid rows): line 5 repeats line 1's key. Run 2 (lines 6-8):
        // line 6 repeats line 3's (in run 1), line 8 line 7's.
        let batches = [
            Self.batch(first: 1, [("A", 50), nil, ("B", 10)]),
            Self.batch(first: 4, [("C", 30), ("A", 50)]),
            Self.batch(first: 6, [("B", 10), ("D", 5)]),
            Self.batch(first: 8, [("D", 5)]),
        ]
        for message in Self.messages(batches, runCapacity: 4) { #expect(handOff.put(message)) }
        let recorder = RunRecorder()
        let loader = EventFileLoader(
            validator: EventValidator(now: 2_000_000_000, allowedFutureSkewSeconds: 300),
            lineReader: LineReader(maxLineBytes: 1024), shouldStop: { false }, observer: recorder)
        let counts = try store.pool.write { db in try loader.write(from: handOff, fileId: 7, db: db) }
        #expect(counts.rowsRead == 8)
        #expect(counts.rowsLoaded == 4)
        #expect(counts.rowsDuplicate == 3)
        #expect(counts.rowsRejected == 1)
        #expect(counts.bronzeIds == 1...8)
        // The runs as inserted (timestamp order): B, C, A, A again; then D, D again, B again.
        let runs = recorder.runs.withLock { $0 }
        #expect(runs.map(\.lines) == [[3, 4, 1, 5], [7, 8, 6]])
        #expect(runs.map(\.inserted) == [[true, true, true, false], [true, false, false]])
        try store.pool.read { db in
            // Each run in timestamp order: B, C, A, then D.
            let silver = try Row.fetchAll(
                db, sql: "SELECT event_id, line_no, user_id FROM silver_event ORDER BY event_id")
            #expect(silver.map { $0["line_no"] as Int64 } == [3, 4, 1, 7])
            #expect(silver.map { $0["user_id"] as String } == ["B", "C", "A", "D"])
            let bronze = try Row.fetchAll(
                db, sql: "SELECT bronze_id, line_no, raw, outcome FROM bronze_event ORDER BY bronze_id")
            #expect(bronze.map { $0["bronze_id"] as Int64 } == Array(1...8))
            #expect(bronze.map { $0["line_no"] as Int64 } == Array(1...8))
            #expect(bronze.map { $0["raw"] as String }.first == "A@50")
            #expect(
                bronze.map { $0["outcome"] as String } == [
                    "silver", "rejected", "silver", "silver", "duplicate", "duplicate", "silver", "duplicate",
                ])
        }
    }

    /// Loads `batches` as file `fileId` through the writer (runs of `runCapacity` rows).
    static func load(_ batches: [ParsedBatch], fileId: Int64, runCapacity: Int = 2, _ db: Database) throws
        -> FileLoadCounts
    {
        let messages = Self.messages(batches, runCapacity: runCapacity)
        let handOff = HandOff<ParserMessage>(capacity: messages.count)
        for message in messages { #expect(handOff.put(message)) }
        let loader = EventFileLoader(
            validator: EventValidator(now: 2_000_000_000, allowedFutureSkewSeconds: 300),
            lineReader: LineReader(maxLineBytes: 1024), shouldStop: { false })
        return try loader.write(from: handOff, fileId: fileId, db: db)
    }

    @Test("an event file's rows taken back by its mark: the files before it kept, ids given again")
    func undoingAnEventFile() throws {
        let folder = try TemporaryFolder("silver-undo")
        defer { folder.remove() }
        let store = try folder.store()
        try store.pool.write { db in
            _ = try Self.load([Self.batch(first: 1, [("A", 50), nil, ("B", 10)])], fileId: 1, db)
            let mark = try EventRowsMark.read(db)
            #expect(mark == EventRowsMark(bronzeId: 3, eventId: 2))
            // File 2 (in the same transaction, as in a group): new keys and a duplicate of
            // file 1's, in two runs; then undone (twice, as after a rejection and a failed read).
            _ = try Self.load(
                [Self.batch(first: 1, [("C", 5), ("A", 50)]), Self.batch(first: 3, [("D", 7), ("E", 1)])],
                fileId: 2, db)
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM silver_event") == 5)
            try mark.undo(db)
            try mark.undo(db)
            #expect(try EventRowsMark.read(db) == mark)
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM bronze_event WHERE file_id = 2") == 0)
            #expect(
                try String.fetchAll(db, sql: "SELECT user_id FROM silver_event ORDER BY event_id") == [
                    "B", "A",
                ])
            // The next file's rows take the ids after the mark, and C is new again.
            let counts = try Self.load([Self.batch(first: 1, [("C", 5)])], fileId: 3, db)
            #expect(counts.rowsLoaded == 1)
            #expect(try Int64.fetchOne(db, sql: "SELECT bronze_id FROM bronze_event WHERE file_id = 3") == 4)
            #expect(try Int64.fetchOne(db, sql: "SELECT event_id FROM silver_event WHERE user_id = 'C'") == 3)
        }
    }

    @Test(
        "bronze ids are SQLite's choice, checked: consecutive after the largest; past the largest rowid the load fails"
    )
    func bronzeIdsChecked() throws {
        let folder = try TemporaryFolder("silver-bronze-ids")
        defer { folder.remove() }
        let store = try folder.store()
        try store.pool.write { db in
            // Consecutive after the largest, as the ledger's range says.
            try db.execute(
                sql: "INSERT INTO bronze_event VALUES (41, 1, 1, 'x', 'rejected', 'malformed_json')")
            let counts = try Self.load([Self.batch(first: 1, [("A", 50), nil, ("B", 10)])], fileId: 2, db)
            #expect(counts.bronzeIds == 42...44)
            #expect(
                try Int64.fetchAll(
                    db, sql: "SELECT bronze_id FROM bronze_event WHERE file_id = 2 ORDER BY line_no")
                    == [42, 43, 44])
            #expect(
                try Int64.fetchOne(
                    db, sql: "SELECT bronze_id FROM bronze_event WHERE outcome = 'silver' AND line_no = 3")
                    == 44)
        }
        try store.pool.write { db in
            // At the largest rowid SQLite picks another at random: the writer refuses it.
            try db.execute(
                sql:
                    "INSERT INTO bronze_event VALUES (9223372036854775807, 1, 1, 'x', 'rejected', 'malformed_json')"
            )
            #expect {
                _ = try Self.load([Self.batch(first: 1, [("C", 5)])], fileId: 3, db)
            } throws: { error in
                "\(error)".contains("bronze_event ids out of step")
            }
        }
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
