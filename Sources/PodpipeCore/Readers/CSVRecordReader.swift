import Foundation
import PodpipeRules

/// Reads a reference CSV with a header row, streaming: the header's column names, then each
/// record with its line, its raw text (byte for byte, for bronze) and its fields.
///
/// Splitting is ``CSVRecordSplitter``'s (RFC 4180, every record bounded by `maxRecordBytes`,
/// which the pipeline sets to `ingest.max_line_bytes`); this type adds what the pipeline
/// needs around it: the header (any order, case-insensitive, trimmed, no name twice),
/// column lookup by name, UTF-8 text, and which stretches are rows rejected before any rule
/// (too long, unterminated quote). Memory stays within one chunk and one record.
struct CSVRecordReader {
    struct Record: Equatable {
        var line: Int
        /// The record as received: its bytes without the line break that ends it.
        var raw: String
        var fields: [String]
    }

    enum Item: Equatable {
        case record(Record)
        /// A stretch that is not a record the rules can read: bronze keeps `raw` with `code`.
        case rejected(line: Int, raw: String, code: ReferenceErrorCode)
    }

    let header: [String]
    private var splitter: CSVRecordSplitter
    private var ended = false
    /// The next chunk of the file; empty at its end.
    private let read: () throws -> [UInt8]

    /// Reads up to the header. - Throws: ``FileRejection`` for a file without a usable
    /// header; whatever `read` throws.
    init(maxRecordBytes: Int, read: @escaping () throws -> [UInt8]) throws {
        self.read = read
        splitter = CSVRecordSplitter(maxRecordBytes: maxRecordBytes)
        var first: CSVRecordSplitter.Item?
        while first == nil {
            if let item = splitter.next() {
                first = item
            } else if ended {
                break
            } else {
                try Self.feed(&splitter, &ended, read)
            }
        }
        switch first {
        case nil:
            throw FileRejection.empty
        case .nul(let line):
            throw FileRejection.csvBinary(line: line)
        case .tooLong(let line, _):
            throw FileRejection.badHeader(
                line: line, reason: "is longer than ingest.max_line_bytes (\(maxRecordBytes) bytes)")
        case .unterminatedQuote(let line, _):
            throw FileRejection.badHeader(line: line, reason: "opens a quote it never closes")
        case .record(_, let raw, let fields):
            guard String(validating: raw, as: UTF8.self) != nil else { throw FileRejection.notUTF8 }
            let header = fields.map {
                String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            }
            if let duplicates = Self.duplicates(header) {
                throw FileRejection.duplicateColumns(duplicates, header: header)
            }
            self.header = header
        }
    }

    /// Reads `bytes` whole (tests, the fuzzer).
    init(bytes: [UInt8], maxRecordBytes: Int = 32 << 20) throws {
        var given = false
        try self.init(maxRecordBytes: maxRecordBytes) {
            defer { given = true }
            return given ? [] : bytes
        }
    }

    private static func feed(
        _ splitter: inout CSVRecordSplitter, _ ended: inout Bool, _ read: () throws -> [UInt8]
    ) throws {
        let chunk = try read()
        if chunk.isEmpty {
            splitter.finish()
            ended = true
        } else {
            splitter.append(chunk)
        }
    }

    /// Non-empty names the header holds more than once (compared as columns are looked up:
    /// trimmed, case-insensitive), as first spelled, in header order; nil when none. Two columns of one name
    /// would leave it to chance which one a rule reads.
    static func duplicates(_ header: [String]) -> [String]? {
        var first: [String: String] = [:]
        var repeated: [String] = []
        for name in header where !name.isEmpty {
            let key = name.lowercased()
            if let earlier = first[key] {
                if !repeated.contains(earlier) { repeated.append(earlier) }
            } else {
                first[key] = name
            }
        }
        return repeated.isEmpty ? nil : repeated
    }

    /// Index of each required column in the header, or the missing names.
    func columnIndexes(required: [String]) -> Result<[Int], FileRejection> {
        var indexes: [Int] = []
        var missing: [String] = []
        let lower = header.map { $0.lowercased() }
        for name in required {
            if let index = lower.firstIndex(of: name) {
                indexes.append(index)
            } else {
                missing.append(name)
            }
        }
        return missing.isEmpty
            ? .success(indexes) : .failure(.missingColumns(missing, header: header))
    }

    /// The next record or rejected stretch; nil at the end of the file.
    /// - Throws: ``FileRejection`` (`.csvBinary` for a NUL, `.notUTF8`); whatever `read` throws.
    mutating func next() throws -> Item? {
        while true {
            guard let item = splitter.next() else {
                if ended { return nil }
                try Self.feed(&splitter, &ended, read)
                continue
            }
            switch item {
            case .nul(let line):
                throw FileRejection.csvBinary(line: line)
            case .record(let line, let raw, let fields):
                // Fields are split at ASCII bytes, so a valid record has valid fields.
                guard let text = String(validating: raw, as: UTF8.self) else { throw FileRejection.notUTF8 }
                return .record(
                    Record(line: line, raw: text, fields: fields.map { String(decoding: $0, as: UTF8.self) }))
            case .unterminatedQuote(let line, let raw):
                guard let text = String(validating: raw, as: UTF8.self) else { throw FileRejection.notUTF8 }
                return .rejected(line: line, raw: text, code: .unterminatedQuote)
            case .tooLong(let line, let prefix):
                // The kept prefix may end inside a character: repaired, not refused.
                return .rejected(
                    line: line, raw: String(decoding: prefix, as: UTF8.self), code: .recordTooLong)
            }
        }
    }
}
