import Foundation
import GRDB
import PodpipeRules

#if canImport(Glibc)
    import Glibc
#endif

/// What loading one file produced, for its ledger row.
struct FileLoadCounts: Sendable, Equatable {
    var rowsRead: Int64 = 0
    var rowsLoaded: Int64 = 0
    var rowsRejected: Int64 = 0
    var rowsDuplicate: Int64 = 0
    var firstError: String?
    var firstErrorLine: Int64?
    /// Rows that were valid JSON (any code but malformed_json).
    var jsonRows: Int64 = 0
    /// Set when the rows were read but the file as a whole is unusable (kept in bronze).
    var rejection: FileRejection?
    /// The bronze_event rows written (event files), for the ledger's range.
    var bronzeIds: ClosedRange<Int64>?

    mutating func noteError(_ codes: String, line: Int64) {
        if firstError == nil {
            firstError = codes
            firstErrorLine = line
        }
    }

    /// Counts one line of an event file and returns what it becomes in bronze. `inserted`:
    /// whether a valid line's row went into silver; nil when the database decides it later
    /// (PostgreSQL's set-based insert): the line counts as a duplicate until
    /// ``countValid(loaded:)`` says how many were new. Both engines count with it.
    mutating func count(_ line: ParsedLine, inserted: Bool?) -> EventLineOutcome {
        rowsRead += 1
        switch line.outcome {
        case .blank:
            // Never sent by the parser; kept in bronze as rejected if it were.
            return .rejected("malformed_json")
        case .valid:
            jsonRows += 1
            if inserted == true {
                rowsLoaded += 1
                return .silver
            }
            rowsDuplicate += 1
            return inserted == nil ? .valid : .duplicate
        case .invalid(let errors):
            if !errors.contains(.malformedJSON) { jsonRows += 1 }
            rowsRejected += 1
            let codes = errors.text
            noteError(codes, line: line.lineNo)
            return .rejected(codes)
        }
    }

    /// `loaded` of the valid lines counted with `inserted: nil` went into silver.
    mutating func countValid(loaded: Int64) {
        let moved = min(max(0, loaded), rowsDuplicate)
        rowsLoaded += moved
        rowsDuplicate -= moved
    }

    /// After an event file's last line: no line at all is an empty file (rejected, nothing
    /// kept); no line of JSON rejects the file with its rows kept in bronze.
    mutating func finishEventFile() throws {
        if rowsRead == 0 { throw FileRejection.empty }
        if jsonRows == 0 { rejection = .notJSON(lines: rowsRead) }
    }
}

/// What a line of an event file becomes in bronze (``FileLoadCounts/count(_:inserted:)``).
enum EventLineOutcome: Equatable {
    case silver
    case duplicate
    /// Valid; new to silver or a duplicate is decided by the database.
    case valid
    case rejected(String)
}

/// Why a whole file is unusable (ledger state `rejected`).
enum FileRejection: Error, Equatable {
    case empty
    case binary(line: Int)
    case notJSON(lines: Int64)
    case unreadable(String)
    case missingColumns([String], header: [String])
    case notUTF8
    /// CSV cases (``CSVRecordReader``): a NUL byte, a header naming a column twice, a
    /// header that is not a complete record.
    case csvBinary(line: Int)
    case duplicateColumns([String], header: [String])
    case badHeader(line: Int, reason: String)

    var message: String {
        switch self {
        case .empty:
            "the file is empty (no non-blank line)"
        case .binary(let line):
            "the file is binary (NUL bytes on line \(line)), not NDJSON text"
        case .notJSON(let lines):
            "not one of the file's \(lines) lines is JSON; rows kept in bronze with malformed_json"
        case .unreadable(let reason):
            reason
        case .missingColumns(let missing, let header):
            "the CSV header lacks required column(s) \(missing.joined(separator: ", ")) (header: \(header.joined(separator: ",")))"
        case .notUTF8:
            "the CSV file is not UTF-8 text"
        case .csvBinary(let line):
            "the file holds a NUL byte on line \(line): binary or damaged, not CSV text; deliver the export again"
        case .duplicateColumns(let names, let header):
            "the CSV header names column(s) \(names.joined(separator: ", ")) more than once (header: \(header.joined(separator: ","))); which one holds the value is ambiguous: fix the export's header"
        case .badHeader(let line, let reason):
            "the CSV header (line \(line)) \(reason); fix the export's header"
        }
    }
}

/// One non-blank line, parsed and validated by the parser thread.
struct ParsedLine: Sendable {
    var lineNo: Int64
    /// The raw text is `bytes[start ..< start + length]` of its batch.
    var start: Int
    var length: Int
    var outcome: LineOutcome
    /// A valid event's key hash (``SilverKeySlot``), computed where the line is made: on the
    /// parser thread, not the writer's. 0 for other lines.
    var keyHash: Int64

    init(lineNo: Int64, start: Int, length: Int, outcome: LineOutcome) {
        self.lineNo = lineNo
        self.start = start
        self.length = length
        self.outcome = outcome
        if case .valid(let event) = outcome {
            keyHash = SilverKeySlot(event).keyHash
        } else {
            keyHash = 0
        }
    }
}

/// A run of parsed lines with their raw bytes in one buffer (a few per file in flight).
struct ParsedBatch: Sendable {
    var bytes: [UInt8] = []
    var lines: [ParsedLine] = []
}

/// What the parser thread sends: batches, each followed by the silver run it completed (if
/// runs were asked for), then the end, or the reason it stopped.
enum ParserMessage: Sendable {
    case batch(ParsedBatch)
    /// A file's valid rows in insertion order (``SilverRun``), after the batch that
    /// completed them; `last`: the file's last run, sent once the parser has read the whole
    /// file (the next file's parse may begin while the writer inserts it, ``ParseAhead``).
    case run([SilverRow], last: Bool)
    case end
    case failed(any Error & Sendable)
}

/// A parser thread over one event file's bytes (``EventFileLoader/parse(source:validator:lineReader:into:)``)
/// and the bounded hand-off it fills: begun when the file's rows load, or before, by
/// ``ParseAhead``, while the writer inserts the previous file's last rows. It never touches
/// the database.
final class EventParse: @unchecked Sendable {  // stop(): the writer's thread only
    let source: ChunkSource
    /// Rows per silver run it gathers (``SilverRun``); nil: none (PostgreSQL's loader).
    let runCapacity: Int?
    let handOff = HandOff<ParserMessage>(capacity: 8)
    private let finished = HandOff<Bool>(capacity: 1)
    private var stopped = false

    init(source: ChunkSource, validator: EventValidator, lineReader: LineReader, runCapacity: Int?) {
        self.source = source
        self.runCapacity = runCapacity
        let handOff = self.handOff
        let finished = self.finished
        let thread = Thread {
            EventFileLoader.parse(
                source: source, validator: validator, lineReader: lineReader, runCapacity: runCapacity,
                into: handOff)
            finished.put(true)
        }
        thread.name = "podpipe-parse"
        thread.start()
    }

    /// Stops the parser if it still runs and waits until it no longer reads `source` (its
    /// digest is read next). Later calls return at once.
    func stop() {
        guard !stopped else { return }
        stopped = true
        handOff.close()
        _ = finished.take()
    }
}

/// Loads one NDJSON event file into bronze and silver inside the caller's transaction:
/// every non-blank line becomes a bronze row with its outcome and codes; valid rows are
/// inserted into silver unless their natural key is already there (then: duplicate).
///
/// Two threads: a parser thread reads, splits and validates lines into batches; the
/// calling thread (which holds the SQLite transaction) inserts them. The hand-off is
/// bounded, so memory does not grow with the file.
struct EventFileLoader {
    let validator: EventValidator
    let lineReader: LineReader
    let shouldStop: @Sendable () -> Bool
    /// Told of the rows inserted into silver (nil: nobody listens).
    var observer: (any IngestObserver)? = nil
    /// Valid rows per sorted silver insert (``SilverRun``).
    var runCapacity = SilverRun.capacity
    /// This file's parse, begun before its turn (``ParseAhead``); nil: the load starts one.
    var started: EventParse? = nil
    /// Told when the parser has read the whole file, while the writer still inserts its last
    /// rows: the next file's parse may begin (``ParseAhead``).
    var parsed: (@Sendable () -> Void)? = nil

    /// Longest raw text kept in bronze for a line that exceeded the line-length limit.
    static let truncatedRawBytes = 4096
    /// A NUL byte within the first bytes of the file marks it binary.
    static let binarySniffBytes = 8192
    static let batchLines = 4096
    static let batchBytes = 1 << 20

    /// Runs the parser thread over `source` while `body` takes its batches (and, with a
    /// `runCapacity`, the silver runs) from the hand-off (both engines' writers); the parser is
    /// stopped and waited for before this returns, so the caller may read `source` again.
    /// `started`: the parse of `source` that ``ParseAhead`` began before the file's turn (one
    /// of another source, or gathering other runs, is stopped, not used).
    static func withParser<Result>(
        source: ChunkSource, validator: EventValidator, lineReader: LineReader, runCapacity: Int?,
        started: EventParse? = nil, _ body: (HandOff<ParserMessage>) throws -> Result
    ) throws -> Result {
        var parse = started
        if let started, started.source !== source || started.runCapacity != runCapacity {
            started.stop()
            parse = nil
        }
        let running =
            parse
            ?? EventParse(
                source: source, validator: validator, lineReader: lineReader, runCapacity: runCapacity)
        // Stop the parser (if still running) and wait until it no longer touches `source`,
        // which the caller reads afterwards.
        defer { running.stop() }
        return try body(running.handOff)
    }

    func load(source: ChunkSource, fileId: Int64, db: Database) throws -> FileLoadCounts {
        try Self.withParser(
            source: source, validator: validator, lineReader: lineReader, runCapacity: runCapacity,
            started: started
        ) { handOff in
            try load(from: handOff, source: source, fileId: fileId, db: db)
        }
    }

    private func load(
        from handOff: HandOff<ParserMessage>, source: ChunkSource, fileId: Int64, db: Database
    ) throws -> FileLoadCounts {
        // Bytes per event line assumed to guess a file's events (generated lines are ~125
        // bytes; gzip compresses NDJSON about 8-fold), for observers that skip large files.
        let expectedEvents = source.currentSize() / 128 * (source.gzip ? 8 : 1)
        return try write(from: handOff, fileId: fileId, db: db, expectedEvents: expectedEvents)
    }

    /// The parser thread: lines → validated batches, and with a `runCapacity` the valid
    /// lines' silver runs in insertion order, each after the batch that completed it. Never
    /// touches the database.
    static func parse(
        source: ChunkSource, validator: EventValidator, lineReader: LineReader, runCapacity: Int?,
        into handOff: HandOff<ParserMessage>
    ) {
        var run = runCapacity.map { SilverRun(capacity: $0) }
        /// Hands `batch` over, then the run it completed; false: the writer stopped taking.
        func handOver(_ batch: ParsedBatch) -> Bool {
            guard handOff.put(.batch(batch)) else { return false }
            guard let rows = run?.add(batch) else { return true }
            return handOff.put(.run(rows, last: false))
        }
        var batch = ParsedBatch()
        batch.bytes.reserveCapacity(batchBytes + 4096)
        batch.lines.reserveCapacity(batchLines)
        var bytesSeen = 0
        do {
            try lineReader.forEachLine(in: source) { lineNumber, line, truncated in
                if bytesSeen < binarySniffBytes {
                    bytesSeen += line.count + 1
                    if let base = line.baseAddress, memchr(base, 0, line.count) != nil {
                        throw FileRejection.binary(line: lineNumber)
                    }
                }
                let outcome: LineOutcome
                var raw = line
                if truncated {
                    outcome = .invalid(EventErrors(.malformedJSON))
                    raw = UnsafeRawBufferPointer(rebasing: line[0..<min(line.count, truncatedRawBytes)])
                } else {
                    outcome = validator.validate(line)
                    if case .blank = outcome { return }
                }
                let start = batch.bytes.count
                batch.bytes.append(contentsOf: raw)
                batch.lines.append(
                    ParsedLine(lineNo: Int64(lineNumber), start: start, length: raw.count, outcome: outcome))
                if batch.lines.count >= batchLines || batch.bytes.count >= batchBytes {
                    guard handOver(batch) else { throw PipelineError.interrupted }
                    batch = ParsedBatch()
                    batch.bytes.reserveCapacity(batchBytes + 4096)
                    batch.lines.reserveCapacity(batchLines)
                }
            }
            if !batch.lines.isEmpty { guard handOver(batch) else { return } }
            if let rows = run?.finish() { guard handOff.put(.run(rows, last: true)) else { return } }
            handOff.put(.end)
        } catch {
            handOff.put(.failed(error))
        }
    }

    /// Bronze rows per multi-row INSERT (silver's: ``SilverInserter/rowsPerInsert``): one
    /// statement execution (cursor opens, VDBE set-up and halt) serves this many rows.
    static let rowsPerInsert = 64

    /// Bronze rows with the bronze_id SQLite chooses: the next after the largest, which the
    /// writer knows (``write(from:fileId:db:expectedEvents:)`` checks it after every
    /// statement), so that a line found a duplicate later is found by it. (Giving the id made
    /// SQLite seek it from the table's root for every row, to check it was free, about 8 % of the
    /// writer's time on a seed-shaped load; a chosen id is appended at the cursor:
    /// doc/performance.md, session 17.)
    static func bronzeSQL(rows: Int) -> String {
        """
        INSERT OR FAIL INTO bronze_event (file_id, line_no, raw, outcome, error_codes)
        VALUES \(MultiRowValues.placeholders(columns: 5, rows: rows))
        """
    }

    /// A valid line whose natural key was already in silver (its bronze row went in as
    /// `silver`, SilverSortedInsert.swift).
    static let duplicateSQL = "UPDATE OR FAIL bronze_event SET outcome = 'duplicate' WHERE bronze_id = ?"

    /// The writer side: batches → bronze and silver rows, on the transaction's thread.
    ///
    /// Per batch, every line goes to bronze with its outcome, `rowsPerInsert` at a time, a
    /// valid one as `silver`. Each ``SilverRun`` the parser hands over after a batch (in
    /// timestamp order, issue 15: SilverSortedInsert.swift) is inserted into silver by the
    /// ``SilverInserter``, which says which keys were new; the duplicates' bronze rows are
    /// then set to `duplicate`.
    /// Bronze's statements are `OR FAIL`: a constraint that fails stops the statement with an
    /// error as `ABORT` would, and the caller rolls back, but SQLite need not keep a statement
    /// journal (a copy of every existing page each multi-row statement modifies, 128 MiB for a
    /// 100k-line file) to undo the statement alone. Silver's `OR IGNORE` needs none either.
    func write(
        from handOff: HandOff<ParserMessage>, fileId: Int64, db: Database, expectedEvents: Int64 = 0
    ) throws -> FileLoadCounts {
        let many = Self.rowsPerInsert
        var silver = try SilverInserter(db)
        let duplicate = try BulkStatement(db, sql: Self.duplicateSQL)
        try observer?.eventFileBegins(
            silverLast: silver.lastEventId, expectedEvents: expectedEvents, db)
        let bronzeMany = try BulkStatement(db, sql: Self.bronzeSQL(rows: many))
        let bronzeOne = try BulkStatement(db, sql: Self.bronzeSQL(rows: 1))
        // The file's bronze rows get the bronze_ids after the largest so far (one writer,
        // consecutive rowids): the ledger records that range (migration 0004). (Saturating: at
        // the largest rowid SQLite would choose another, which the check below refuses.)
        let firstBronzeId = (try Int64.fetchOne(db, sql: "SELECT max(bronze_id) FROM bronze_event") ?? 0)
            .saturatingAdd(1)
        var nextBronzeId = firstBronzeId
        var counts = FileLoadCounts()
        var announcedParsed = false
        loop: while let message = handOff.take() {
            let batch: ParsedBatch
            switch message {
            case .batch(let b): batch = b
            case .run(let rows, let last):
                if last {
                    parsed?()
                    announcedParsed = true
                }
                try insert(rows, fileId, firstBronzeId, &silver, duplicate, &counts)
                continue
            case .end:
                if !announcedParsed { parsed?() }
                break loop
            case .failed(let error): throw error
            }
            if shouldStop() { throw PipelineError.interrupted }
            let lines = batch.lines
            try batch.bytes.withUnsafeBytes { bytes in
                // Bronze: every line, with its outcome (a valid one `silver` until its run finds
                // the key already there).
                var next = 0
                while next < lines.count {
                    let statement = lines.count - next >= many ? bronzeMany : bronzeOne
                    let rows = lines.count - next >= many ? many : 1
                    for row in 0..<rows {
                        let line = lines[next + row]
                        let base = Int32(row * 5)
                        statement.bind(base + 1, fileId)
                        statement.bind(base + 2, line.lineNo)
                        statement.bindTextNoCopy(
                            base + 3,
                            UnsafeRawBufferPointer(rebasing: bytes[line.start..<(line.start + line.length)]))
                        switch counts.count(line, inserted: nil) {
                        case .silver, .duplicate, .valid:
                            statement.bindStatic(base + 4, "silver")
                            statement.bindNull(base + 5)
                        case .rejected(let codes):
                            statement.bindStatic(base + 4, "rejected")
                            statement.bindText(base + 5, codes)
                        }
                        nextBronzeId = nextBronzeId.saturatingAdd(1)
                    }
                    _ = try statement.run()
                    // SQLite gave the rows the ids after the largest, one by one: the last is
                    // the writer's count. (Another would mean a row this writer did not make.)
                    guard statement.lastInsertedRowid == nextBronzeId - 1 else {
                        throw PipelineError.database(
                            message:
                                "bronze_event ids out of step: line \(lines[next + rows - 1].lineNo)'s row got id \(statement.lastInsertedRowid), expected \(nextBronzeId - 1) (bronze_event's ids must stay below 2^63 - 1); the file's rows are rolled back",
                            file: nil)
                    }
                    next += rows
                    if FaultInjection.armed {
                        for _ in 0..<rows { FaultInjection.reach(.eventRows) }
                    }
                }
            }
        }
        if nextBronzeId > firstBronzeId { counts.bronzeIds = firstBronzeId...(nextBronzeId - 1) }
        try counts.finishEventFile()
        return counts
    }

    /// Inserts a run's rows into silver (``SilverInserter``), marks the bronze rows of those
    /// whose key was there already as duplicates (the file's bronze rows begin at
    /// `firstBronzeId`), counts the new ones and tells the observer.
    private func insert(
        _ rows: [SilverRow], _ fileId: Int64, _ firstBronzeId: Int64, _ silver: inout SilverInserter,
        _ duplicate: BulkStatement, _ counts: inout FileLoadCounts
    ) throws {
        let inserted = try silver.insert(rows, fileId: fileId)
        var loaded: Int64 = 0
        for (index, row) in rows.enumerated() {
            if inserted[index] {
                loaded += 1
            } else {
                duplicate.bind(1, firstBronzeId.saturatingAdd(row.position))
                _ = try duplicate.run()
            }
        }
        // The valid lines were counted as duplicates until now (count(_:inserted: nil)).
        counts.countValid(loaded: loaded)
        observer?.eventRowsInserted(rows, inserted: inserted)
    }
}

extension EventType {
    /// The type's name as a static string, bound without copying.
    var staticName: StaticString {
        switch self {
        case .play: "play"
        case .pause: "pause"
        case .seek: "seek"
        case .complete: "complete"
        }
    }
}
