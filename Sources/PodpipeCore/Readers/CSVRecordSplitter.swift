/// Splits a CSV byte stream into RFC 4180 records, in bounded memory, keeping each record's
/// bytes as received.
///
/// Written by hand rather than through CSV.swift: that library reads a quoted field until its
/// closing quote however far away it is (one unterminated quote takes the rest of the file
/// into a single field, in memory, and the file was recorded `loaded`), and it
/// gives a record's fields, never the bytes the record was made of, which bronze keeps.
///
/// The rules (tests: `CSVRecordSplitterTests`):
/// - A record ends at LF, CRLF or CR outside quotes; a quoted field may hold commas, `""`
///   (one quote) and line breaks. A quote opens a field only at its start (`ab"c` is the text
///   `ab"c`); after a closing quote the rest of the field is taken as it is (`"abc"def` reads
///   `abcdef`, and its raw bytes stay `"abc"def`).
/// - A record is never longer than `maxRecordBytes` (the NDJSON line bound,
///   `ingest.max_line_bytes`). Past it, or at the end of the input, a quote that is still
///   open and has a line break after it is taken as stray: the record is reported
///   ``Item/unterminatedQuote(line:raw:)`` as its first line, and splitting resumes on the
///   line after. Any other record past the bound is ``Item/tooLong(line:prefix:)`` (its first
///   ``keptPrefixBytes``), and the rest of its line is skipped without being kept.
/// - A NUL byte is not CSV text: ``Item/nul(line:)`` names its line and nothing follows.
/// - A UTF-8 byte order mark at the very start is dropped; blank records (nothing but spaces
///   and tabs) are skipped; line numbers are physical lines, 1-based (CRLF counts once).
///
/// Feed bytes with ``append(_:)``, call ``finish()`` at the end of the input, and take items
/// with ``next()`` until it returns nil (more bytes needed, or the end).
struct CSVRecordSplitter {
    enum Item: Equatable, Sendable {
        /// A complete record: its bytes without the line break that ends it, and its fields.
        case record(line: Int, raw: [UInt8], fields: [[UInt8]])
        /// A record longer than the bound, starting on `line`: its first bytes.
        case tooLong(line: Int, prefix: [UInt8])
        /// A quote never closed within the bound or before the end: the record's first line.
        case unterminatedQuote(line: Int, raw: [UInt8])
        /// A NUL byte on `line`; the input is not CSV text.
        case nul(line: Int)
    }

    /// Bytes of an over-long record kept (as the NDJSON path keeps of an over-long line).
    static let keptPrefixBytes = 4096

    let maxRecordBytes: Int

    private enum State {
        case fieldStart, unquoted, quoted, quoteInQuoted
    }

    private var buffer: [UInt8] = []
    /// First byte of the current record, next byte to scan, and the scan's state there.
    private var start = 0
    private var scan = 0
    private var state = State.fieldStart
    /// The physical line `start` is on.
    private var line = 1
    /// The first line break inside the current record (inside quotes), if any.
    private var firstBreak: Int?
    /// Discarding the rest of an over-long line, up to its line break.
    private var skipping = false
    private var ended = false
    private var bomChecked = false
    private var stopped = false

    init(maxRecordBytes: Int) {
        self.maxRecordBytes = max(1, maxRecordBytes)
    }

    /// Bytes held: the current record's so far and what follows it (tests check the bound).
    var bufferedBytes: Int { buffer.count }

    mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// No more bytes will come.
    mutating func finish() { ended = true }

    /// Every item of `bytes`, for tests and the fuzzer.
    static func split(_ bytes: [UInt8], maxRecordBytes: Int) -> [Item] {
        var splitter = CSVRecordSplitter(maxRecordBytes: maxRecordBytes)
        splitter.append(bytes)
        splitter.finish()
        var items: [Item] = []
        while let item = splitter.next() { items.append(item) }
        return items
    }

    private enum Stop {
        case terminator, overBound, nul, exhausted
    }

    /// Scans the current record from `scan` until its line break (`scan` on it), a NUL
    /// (`scan` on it), the bound passed, or the end of `bytes`. The hot loop: a plain pass
    /// over a buffer pointer, byte values as literals (`"` 0x22, `,` 0x2C, CR 0x0D, LF 0x0A).
    private static func advance(
        _ bytes: UnsafeBufferPointer<UInt8>, recordStart: Int, limit: Int, scan: inout Int,
        state: inout State, firstBreak: inout Int?
    ) -> Stop {
        var i = scan
        var current = state
        defer {
            scan = i
            state = current
        }
        while i < bytes.count {
            let byte = bytes[i]
            if byte == 0 { return .nul }
            switch current {
            case .fieldStart:
                if byte == 0x22 {
                    current = .quoted
                } else if byte == 0x0D || byte == 0x0A {
                    return .terminator
                } else if byte != 0x2C {
                    current = .unquoted
                }
            case .unquoted:
                if byte == 0x2C {
                    current = .fieldStart
                } else if byte == 0x0D || byte == 0x0A {
                    return .terminator
                }
            case .quoted:
                if byte == 0x22 {
                    current = .quoteInQuoted
                } else if (byte == 0x0D || byte == 0x0A) && firstBreak == nil {
                    firstBreak = i
                }
            case .quoteInQuoted:
                if byte == 0x22 {
                    current = .quoted
                } else if byte == 0x2C {
                    current = .fieldStart
                } else if byte == 0x0D || byte == 0x0A {
                    return .terminator
                } else {
                    current = .unquoted
                }
            }
            i += 1
            if i - recordStart > limit { return .overBound }
        }
        return .exhausted
    }

    /// The next item; nil when more bytes are needed (before ``finish()``) or at the end.
    mutating func next() -> Item? {
        if stopped { return nil }
        if !bomChecked {
            if buffer.count < 3 && !ended { return nil }
            if buffer.starts(with: [0xEF, 0xBB, 0xBF]) {
                start = 3
                scan = 3
            }
            bomChecked = true
        }
        while true {
            if skipping {
                switch skipLine() {
                case .needMore: return nil
                case .nul(let line):
                    stopped = true
                    return .nul(line: line)
                case .done: continue
                }
            }
            var (scanned, scanState, lineBreak) = (scan, state, firstBreak)
            let stop = buffer.withUnsafeBufferPointer {
                Self.advance(
                    $0, recordStart: start, limit: maxRecordBytes, scan: &scanned, state: &scanState,
                    firstBreak: &lineBreak)
            }
            (scan, state, firstBreak) = (scanned, scanState, lineBreak)
            switch stop {
            case .nul:
                stopped = true
                return .nul(line: line + Self.lineBreaks(buffer[start..<scan]))
            case .overBound:
                return overBound()
            case .terminator:
                let cr = buffer[scan] == 0x0D
                // A CR last in the buffer: wait to see whether an LF follows (CRLF).
                if cr && scan + 1 == buffer.count && !ended { return nil }
                let end = scan + (cr && scan + 1 < buffer.count && buffer[scan + 1] == 0x0A ? 2 : 1)
                if let item = takeRecord(upTo: scan, resumeAt: end) { return item }
                continue
            case .exhausted:
                break
            }
            if !ended {
                compact()
                return nil
            }
            if start >= buffer.count { return nil }
            if state == .quoted {
                if let item = strayQuote() { return item }
                continue
            }
            if let item = takeRecord(upTo: buffer.count, resumeAt: buffer.count) { return item }
        }
    }

    /// Ends the current record at `end` (exclusive) and starts the next at `resume`; nil
    /// when the record is blank (skipped).
    private mutating func takeRecord(upTo end: Int, resumeAt resume: Int) -> Item? {
        let raw = Array(buffer[start..<end])
        let recordLine = line
        line += 1 + Self.lineBreaks(raw[...])
        restart(at: resume)
        let fields = Self.fields(raw)
        if fields.count == 1 && fields[0].allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return nil }
        return .record(line: recordLine, raw: raw, fields: fields)
    }

    /// The bound is passed: a quote open over a line break is stray, anything else too long.
    private mutating func overBound() -> Item? {
        if state == .quoted || state == .quoteInQuoted, firstBreak != nil {
            return strayQuote()
        }
        let item = Item.tooLong(
            line: line, prefix: Array(buffer[start..<start + min(Self.keptPrefixBytes, maxRecordBytes)]))
        line += Self.lineBreaks(buffer[start..<scan])
        skipping = true
        restart(at: scan)
        return item
    }

    /// The open quote of the current record is stray: the record is its first line (the
    /// whole rest when it has no line break), and splitting resumes after that line.
    private mutating func strayQuote() -> Item? {
        let recordLine = line
        guard let lineEnd = firstBreak else {
            let raw = Array(buffer[start..<buffer.count])
            restart(at: buffer.count)
            return .unterminatedQuote(line: recordLine, raw: raw)
        }
        // A CR last in the buffer: wait to see whether an LF follows (nil: more bytes needed;
        // the scan, already past the bound, comes back here with them).
        if buffer[lineEnd] == 0x0D && lineEnd + 1 == buffer.count && !ended { return nil }
        let raw = Array(buffer[start..<lineEnd])
        let crlf = buffer[lineEnd] == 0x0D && lineEnd + 1 < buffer.count && buffer[lineEnd + 1] == 0x0A
        line += 1
        restart(at: lineEnd + (crlf ? 2 : 1))
        return .unterminatedQuote(line: recordLine, raw: raw)
    }

    private enum Skip {
        /// More bytes are needed (or the input ended inside the line).
        case needMore
        case nul(line: Int)
        /// The line is skipped; the next record starts after it.
        case done
    }

    /// Skips to the end of the current (over-long) line without keeping its bytes.
    private mutating func skipLine() -> Skip {
        let from = scan
        let found = buffer.withUnsafeBufferPointer { bytes in
            var i = from
            while i < bytes.count && bytes[i] != 0 && bytes[i] != 0x0D && bytes[i] != 0x0A { i += 1 }
            return i
        }
        scan = found
        if scan < buffer.count {
            let byte = buffer[scan]
            if byte == 0 { return .nul(line: line) }
            if byte == 0x0D || byte == 0x0A {
                if byte == 0x0D && scan + 1 == buffer.count && !ended {
                    start = scan
                    compact()
                    return .needMore
                }
                let crlf = byte == 0x0D && scan + 1 < buffer.count && buffer[scan + 1] == 0x0A
                line += 1
                skipping = false
                restart(at: scan + (crlf ? 2 : 1))
                return .done
            }
        }
        start = scan
        compact()
        return .needMore
    }

    private mutating func restart(at index: Int) {
        start = index
        scan = index
        state = .fieldStart
        firstBreak = nil
    }

    /// Drops the bytes before the current record once they are a good part of the buffer.
    private mutating func compact() {
        guard start > 0, start == buffer.count || (start >= 1 << 16 && start * 2 >= buffer.count) else {
            return
        }
        buffer.removeSubrange(0..<start)
        scan -= start
        firstBreak = firstBreak.map { $0 - start }
        start = 0
    }

    /// Line breaks in `bytes`: LF, CR, and CRLF once.
    static func lineBreaks(_ bytes: ArraySlice<UInt8>) -> Int {
        var count = 0
        var previousCR = false
        for byte in bytes {
            if byte == 0x0A {
                if !previousCR { count += 1 }
                previousCR = false
            } else {
                if byte == 0x0D { count += 1 }
                previousCR = byte == 0x0D
            }
        }
        return count
    }

    /// The fields of one complete record (its bytes without the final line break).
    static func fields(_ raw: [UInt8]) -> [[UInt8]] {
        var fields: [[UInt8]] = []
        var current: [UInt8] = []
        var state = State.fieldStart
        for byte in raw {
            switch state {
            case .fieldStart:
                if byte == 0x22 {
                    state = .quoted
                } else if byte == 0x2C {
                    fields.append(current)
                } else {
                    current.append(byte)
                    state = .unquoted
                }
            case .unquoted:
                if byte == 0x2C {
                    fields.append(current)
                    current = []
                    state = .fieldStart
                } else {
                    current.append(byte)
                }
            case .quoted:
                if byte == 0x22 {
                    state = .quoteInQuoted
                } else {
                    current.append(byte)
                }
            case .quoteInQuoted:
                if byte == 0x22 {
                    current.append(byte)
                    state = .quoted
                } else if byte == 0x2C {
                    fields.append(current)
                    current = []
                    state = .fieldStart
                } else {
                    current.append(byte)
                    state = .unquoted
                }
            }
        }
        fields.append(current)
        return fields
    }
}
