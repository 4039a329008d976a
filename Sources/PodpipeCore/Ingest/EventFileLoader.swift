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

    mutating func noteError(_ codes: String, line: Int64) {
        if firstError == nil {
            firstError = codes
            firstErrorLine = line
        }
    }
}

/// Why a whole file is unusable (ledger state `rejected`).
enum FileRejection: Error, Equatable {
    case empty
    case binary(line: Int)
    case notJSON(lines: Int64)
    case unreadable(String)
    case missingColumns([String], header: [String])
    case notUTF8

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
        }
    }
}

/// Loads one NDJSON event file into bronze and silver inside the caller's transaction:
/// every non-blank line becomes a bronze row with its outcome and codes; valid rows are
/// inserted into silver unless their natural key is already there (then: duplicate).
struct EventFileLoader {
    let validator: EventValidator
    let lineReader: LineReader
    let shouldStop: @Sendable () -> Bool

    /// Longest raw text kept in bronze for a line that exceeded the line-length limit.
    static let truncatedRawBytes = 4096
    /// A NUL byte within the first bytes of the file marks it binary.
    static let binarySniffBytes = 8192

    func load(source: ChunkSource, fileId: Int64, db: Database) throws -> FileLoadCounts {
        let silver = try BulkStatement(
            db,
            sql: """
                INSERT OR IGNORE INTO silver_event
                    (ts, user_id, episode_id, event_type, duration, file_id, line_no)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
        let bronze = try BulkStatement(
            db,
            sql: """
                INSERT INTO bronze_event (file_id, line_no, raw, outcome, error_codes)
                VALUES (?, ?, ?, ?, ?)
                """)
        var counts = FileLoadCounts()
        var bytesSeen = 0
        try lineReader.forEachLine(in: source) { lineNumber, line, truncated in
            if bytesSeen < Self.binarySniffBytes {
                bytesSeen += line.count + 1
                if let base = line.baseAddress, memchr(base, 0, line.count) != nil {
                    throw FileRejection.binary(line: lineNumber)
                }
            }
            if lineNumber & 0xFFF == 0, shouldStop() { throw PipelineError.interrupted }
            let outcome: LineOutcome =
                truncated ? .invalid(EventErrors(.malformedJSON)) : validator.validate(line)
            let lineNo = Int64(lineNumber)
            bronze.bind(1, fileId)
            bronze.bind(2, lineNo)
            if truncated {
                bronze.bindText(3, UnsafeRawBufferPointer(rebasing: line[0..<min(line.count, Self.truncatedRawBytes)]))
            } else {
                bronze.bindText(3, line)
            }
            switch outcome {
            case .blank:
                return
            case .valid(let event):
                counts.jsonRows += 1
                silver.bind(1, event.timestamp)
                silver.bindText(2, event.userId)
                silver.bindText(3, event.episodeId)
                silver.bindStatic(4, event.eventType.staticName)
                if let duration = event.duration { silver.bind(5, duration) } else { silver.bindNull(5) }
                silver.bind(6, fileId)
                silver.bind(7, lineNo)
                if try silver.run() == 1 {
                    counts.rowsLoaded += 1
                    bronze.bindStatic(4, "silver")
                } else {
                    counts.rowsDuplicate += 1
                    bronze.bindStatic(4, "duplicate")
                }
                bronze.bindNull(5)
            case .invalid(let errors):
                if !errors.contains(.malformedJSON) { counts.jsonRows += 1 }
                counts.rowsRejected += 1
                let codes = errors.text
                counts.noteError(codes, line: lineNo)
                bronze.bindStatic(4, "rejected")
                bronze.bindText(5, codes)
            }
            counts.rowsRead += 1
            _ = try bronze.run()
        }
        if counts.rowsRead == 0 { throw FileRejection.empty }
        if counts.jsonRows == 0 { counts.rejection = .notJSON(lines: counts.rowsRead) }
        return counts
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
