// A hand-written, strict (RFC 8259) scanner for one NDJSON line that is expected to hold a
// flat event object.
//
// Why hand-written: this is the hot path of ingestion (every event line of every file, and
// every bronze row again on `podpipectl revalidate`). Foundation's JSONDecoder is an order of
// magnitude too slow for it (doc/performance.md), and JSONSerialization builds a dictionary
// of boxed values per line. This scanner makes one pass over the bytes, validates the whole
// line, records where the five members podpipe cares about are (byte ranges, no copies) and
// skips everything else. It allocates nothing per line (a heap-backed bracket bit stack is
// only used past 64 levels of nesting); the validator then creates at most the two id Strings,
// which for ids of up to 15 UTF-8 bytes are stored inline by Swift.
//
// Strictness (what "valid JSON" means here):
// - exactly one JSON value, with optional JSON whitespace (space, tab, LF, CR) around it;
// - strings: every byte valid UTF-8 (no overlong forms, no encoded surrogates, nothing above
//   U+10FFFF), no unescaped control character below 0x20, only the escapes of RFC 8259;
//   a `\uXXXX` escape of a surrogate must form a high+low pair (a lone surrogate cannot be
//   turned into Unicode text, so the line is rejected);
// - numbers per the grammar `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` with no
//   limit on magnitude or precision (the text is kept as written);
// - no trailing commas, no comments, no NaN/Infinity, no leading BOM (the caller drops a
//   BOM at the start of a file);
// - nesting of any depth is validated iteratively (no recursion, no depth limit);
// - duplicate keys are allowed; for the five members the last occurrence wins.
//
// It does no I/O and does not import Foundation.

/// The JSON type of a scanned member value.
public enum JSONKind: UInt8, Sendable, Hashable {
    /// The member does not occur in the object.
    case absent
    case null
    case bool
    case number
    case string
    case object
    case array
}

/// Where one top-level member value sits in the scanned line, and what it is.
///
/// The field does not own any bytes: `start` and `end` are byte offsets into the buffer that
/// was scanned, and the accessors that read text take that same buffer again.
public struct JSONField: Sendable, Hashable {
    /// The JSON type of the value (`.absent` when the key does not occur).
    public var kind: JSONKind
    @usableFromInline var flags: UInt8
    /// Start offset of the value in the line. For a string: the first byte after the opening
    /// quote. For other kinds: the first byte of the value.
    public var start: Int
    /// End offset (exclusive). For a string: the offset of the closing quote, so that
    /// `start..<end` is the raw, still escaped, content.
    public var end: Int

    @inlinable static var flagTrue: UInt8 { 1 }
    @inlinable static var flagEscapes: UInt8 { 2 }
    @inlinable static var flagFraction: UInt8 { 4 }
    @inlinable static var flagExponent: UInt8 { 8 }
    @inlinable static var flagNegative: UInt8 { 16 }

    /// A member that does not occur.
    public static let absent = JSONField(kind: .absent, flags: 0, start: 0, end: 0)

    @inlinable
    init(kind: JSONKind, flags: UInt8, start: Int, end: Int) {
        self.kind = kind
        self.flags = flags
        self.start = start
        self.end = end
    }

    /// True for JSON null or an absent member.
    @inlinable public var isNullOrAbsent: Bool { kind == .null || kind == .absent }

    /// For `.bool`: the value. False for every other kind.
    @inlinable public var boolValue: Bool { kind == .bool && flags & JSONField.flagTrue != 0 }

    /// For `.string`: whether the raw content contains backslash escapes (if not, the raw
    /// bytes are the value's UTF-8).
    @inlinable public var hasEscapes: Bool { flags & JSONField.flagEscapes != 0 }

    /// For `.number`: the literal has neither a fraction nor an exponent (`-12`, `0`).
    @inlinable public var isIntegerLiteral: Bool {
        kind == .number && flags & (JSONField.flagFraction | JSONField.flagExponent) == 0
    }

    /// For `.number`: the literal has a fraction part (`1.5`).
    @inlinable public var hasFraction: Bool { flags & JSONField.flagFraction != 0 }

    /// For `.number`: the literal has an exponent part (`3e2`).
    @inlinable public var hasExponent: Bool { flags & JSONField.flagExponent != 0 }

    /// For `.number`: the literal starts with a minus sign.
    @inlinable public var isNegative: Bool { flags & JSONField.flagNegative != 0 }

    /// The raw bytes of the value in `line` (for a string: the content without the quotes,
    /// still escaped). `line` must be the buffer that was scanned.
    @inlinable
    public func rawBytes(in line: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: line[start..<end])
    }

    /// The raw text of the value as written (for a number: its literal, e.g. `3e2`; for a
    /// string: the content between the quotes, still escaped).
    public func rawText(in line: UnsafeRawBufferPointer) -> String {
        String(decoding: rawBytes(in: line), as: UTF8.self)
    }

    /// For `.string`: the unescaped value; nil for other kinds.
    public func stringValue(in line: UnsafeRawBufferPointer) -> String? {
        guard kind == .string else { return nil }
        if !hasEscapes { return String(decoding: rawBytes(in: line), as: UTF8.self) }
        return String(decoding: JSONEscapes.unescape(rawBytes(in: line)), as: UTF8.self)
    }

    /// For `.string`: the unescaped UTF-8 bytes; nil for other kinds. Allocates.
    public func unescapedBytes(in line: UnsafeRawBufferPointer) -> [UInt8]? {
        guard kind == .string else { return nil }
        return JSONEscapes.unescape(rawBytes(in: line))
    }

    /// The value as a self-contained `JSONMemberValue` (nil when absent). Allocates; meant
    /// for diagnostics and tests, not the hot path.
    public func value(in line: UnsafeRawBufferPointer) -> JSONMemberValue? {
        switch kind {
        case .absent: return nil
        case .null: return .null
        case .bool: return .bool(boolValue)
        case .number: return .number(rawText(in: line))
        case .string: return .string(stringValue(in: line) ?? "")
        case .object: return .object
        case .array: return .array
        }
    }
}

/// A member value detached from the line it came from (see `JSONField.value(in:)`).
public enum JSONMemberValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// A number, as its literal text (`3418`, `300.0`, `-1.5e3`).
    case number(String)
    /// A string, unescaped.
    case string(String)
    /// An object (its content is validated but not extracted).
    case object
    /// An array (its content is validated but not extracted).
    case array
}

/// The five members of an event object podpipe reads; each is `.absent` when its key does
/// not occur. With duplicate keys, the last occurrence wins.
public struct EventMembers: Sendable, Hashable {
    public var eventType: JSONField = .absent
    public var userId: JSONField = .absent
    public var episodeId: JSONField = .absent
    public var timestamp: JSONField = .absent
    public var duration: JSONField = .absent

    public init() {}
}

/// What scanning one line yields.
public enum ScanResult: Sendable, Hashable {
    /// Not exactly one valid JSON value (includes an empty or whitespace-only line).
    case malformed
    /// Valid JSON, but the value is not an object.
    case notAnObject
    /// A valid JSON object; the members podpipe reads.
    case object(EventMembers)
}

/// The NDJSON line scanner (see the file header for why it is hand-written).
public enum NDJSONScanner {
    /// Scans one physical line (without its line terminator) that should hold one JSON
    /// object. The whole line is validated; the top-level members `event_type`, `user_id`,
    /// `episode_id`, `timestamp` and `duration` are located, everything else is skipped.
    /// The returned fields hold offsets into `line`.
    public static func scan(_ line: UnsafeRawBufferPointer) -> ScanResult {
        var members = EventMembers()
        switch scan(line, into: &members) {
        case .malformed: return .malformed
        case .notAnObject: return .notAnObject
        case .object: return .object(members)
        }
    }

    /// Whether `line` is exactly one valid JSON value (any type), with optional whitespace.
    public static func isValidJSON(_ line: UnsafeRawBufferPointer) -> Bool {
        var members = EventMembers()
        return scan(line, into: &members) != .malformed
    }

    /// The outcome of `scan(_:into:)` without a payload.
    public enum Status: UInt8, Sendable {
        case malformed, notAnObject, object
    }

    /// Like `scan(_:)`, but fills `members` in place (meaningful for `.object`; after the
    /// other outcomes its content is unspecified). This form avoids copying the member
    /// table through the result enum; the validator uses it.
    public static func scan(_ line: UnsafeRawBufferPointer, into members: inout EventMembers)
        -> Status
    {
        members = EventMembers()
        guard let base = line.baseAddress, line.count > 0 else { return .malformed }
        var cur = ByteCursor(base: base, end: line.count)
        cur.skipWhitespace()
        guard cur.pos < cur.end else { return .malformed }
        guard cur.byte(cur.pos) == UInt8(ascii: "{") else {
            guard cur.skipValue() else { return .malformed }
            cur.skipWhitespace()
            return cur.pos == cur.end ? .notAnObject : .malformed
        }
        cur.pos += 1
        cur.skipWhitespace()
        guard cur.pos < cur.end else { return .malformed }
        if cur.byte(cur.pos) == UInt8(ascii: "}") {
            cur.pos += 1
        } else {
            while true {
                // Key.
                guard cur.pos < cur.end, cur.byte(cur.pos) == UInt8(ascii: "\"") else {
                    return .malformed
                }
                cur.pos += 1
                let keyStart = cur.pos
                guard let keyEscaped = cur.scanStringBody() else { return .malformed }
                let keyEnd = cur.pos - 1
                cur.skipWhitespace()
                guard cur.pos < cur.end, cur.byte(cur.pos) == UInt8(ascii: ":") else {
                    return .malformed
                }
                cur.pos += 1
                cur.skipWhitespace()
                // Value. Strings (the common case) are scanned right here so that the fast
                // path stays in one function.
                guard cur.pos < cur.end else { return .malformed }
                let field: JSONField
                if cur.byte(cur.pos) == UInt8(ascii: "\"") {
                    cur.pos &+= 1
                    let start = cur.pos
                    guard let escapes = cur.scanStringBody() else { return .malformed }
                    field = JSONField(
                        kind: .string, flags: escapes ? JSONField.flagEscapes : 0, start: start,
                        end: cur.pos &- 1)
                } else if cur.byte(cur.pos) == UInt8(ascii: "{")
                    || cur.byte(cur.pos) == UInt8(ascii: "[")
                {
                    guard let container = cur.scanContainer() else { return .malformed }
                    field = container
                } else {
                    guard let scalar = cur.scanScalar() else { return .malformed }
                    field = scalar
                }
                let slot =
                    keyEscaped
                    ? MemberSlot.matchEscaped(base: base, start: keyStart, end: keyEnd)
                    : MemberSlot.match(base: base, start: keyStart, end: keyEnd)
                switch slot {
                case .none: break
                case .eventType: members.eventType = field
                case .userId: members.userId = field
                case .episodeId: members.episodeId = field
                case .timestamp: members.timestamp = field
                case .duration: members.duration = field
                }
                cur.skipWhitespace()
                guard cur.pos < cur.end else { return .malformed }
                let c = cur.byte(cur.pos)
                cur.pos += 1
                if c == UInt8(ascii: ",") {
                    cur.skipWhitespace()
                    continue
                }
                if c == UInt8(ascii: "}") { break }
                return .malformed
            }
        }
        cur.skipWhitespace()
        return cur.pos == cur.end ? .object : .malformed
    }
}

// MARK: - Member names

/// Which of the five members a key names.
enum MemberSlot {
    case none, eventType, userId, episodeId, timestamp, duration

    // Little-endian loads of the key names (the only byte order Swift on Linux/macOS runs on
    // today; `littleEndian` keeps it correct elsewhere too).
    @inline(__always)
    static func load64(_ base: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inline(__always)
    static func load32(_ base: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always)
    static func load16(_ base: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        UInt16(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    // The key names as little-endian words: "event_ty"+"pe", "episode_"+"id",
    // "user"+"r_id" (overlapping), "timestam"+"p", "duration". Literals, so that no lazy
    // global initialisation sits on the hot path; a test checks them against the names.
    static let word_eventTy: UInt64 = 0x7974_5f74_6e65_7665
    static let word_episode_: UInt64 = 0x5f65_646f_7369_7065
    static let word_timestam: UInt64 = 0x6d61_7473_656d_6974
    static let word_duration: UInt64 = 0x6e6f_6974_6172_7564
    static let word_user: UInt32 = 0x7265_7375
    static let word_r_id: UInt32 = 0x6469_5f72
    static let word_pe: UInt16 = 0x6570
    static let word_id: UInt16 = 0x6469

    /// Matches a raw key without escapes (`start..<end` within the line).
    @inline(__always)
    static func match(base: UnsafeRawPointer, start: Int, end: Int) -> MemberSlot {
        switch end - start {
        case 7:
            return load32(base, start) == word_user && load32(base, start + 3) == word_r_id
                ? .userId : .none
        case 8:
            return load64(base, start) == word_duration ? .duration : .none
        case 9:
            return load64(base, start) == word_timestam
                && base.load(
                    fromByteOffset: start + 8, as: UInt8.self) == UInt8(ascii: "p")
                ? .timestamp : .none
        case 10:
            let head = load64(base, start)
            let tail = load16(base, start + 8)
            if head == word_eventTy && tail == word_pe { return .eventType }
            if head == word_episode_ && tail == word_id { return .episodeId }
            return .none
        default:
            return .none
        }
    }

    /// Matches a key that contains escapes (rare: `"user\u005fid"`), by unescaping it.
    static func matchEscaped(base: UnsafeRawPointer, start: Int, end: Int) -> MemberSlot {
        let raw = UnsafeRawBufferPointer(start: base + start, count: end - start)
        let key = JSONEscapes.unescape(raw)
        return key.withUnsafeBytes { buf in
            guard let b = buf.baseAddress else { return .none }
            return match(base: b, start: 0, end: buf.count)
        }
    }
}

// MARK: - Byte cursor

/// The scanning state: a read position over raw bytes. All reads are bounds-checked by the
/// callers against `end` before they happen.
struct ByteCursor {
    let base: UnsafeRawPointer
    let end: Int
    var pos: Int = 0

    @inline(__always)
    init(base: UnsafeRawPointer, end: Int) {
        self.base = base
        self.end = end
    }

    @inline(__always)
    func byte(_ i: Int) -> UInt8 { base.load(fromByteOffset: i, as: UInt8.self) }

    /// JSON whitespace: space, tab, LF, CR.
    @inline(__always)
    static func isJSONWhitespace(_ c: UInt8) -> Bool {
        c <= 0x20 && (UInt64(1) << UInt64(c)) & 0x1_0000_2600 != 0
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while pos < end, ByteCursor.isJSONWhitespace(byte(pos)) { pos += 1 }
    }

    @inline(__always)
    static func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }

    /// Scans a string body; `pos` is just after the opening quote. On success `pos` is just
    /// after the closing quote and the result says whether escapes occurred; nil if the
    /// string is invalid or unterminated.
    ///
    /// Plain ASCII runs are skipped eight bytes at a time (SWAR): `specialMask` flags the
    /// first byte of a word that is a quote, a backslash, a control character or non-ASCII,
    /// and only such bytes take the byte-by-byte path.
    @inline(__always)
    mutating func scanStringBody() -> Bool? {
        var escapes = false
        while true {
            while pos &+ 8 <= end {
                let w = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: pos, as: UInt64.self))
                let mask = ByteCursor.specialMask(w)
                if mask == 0 {
                    pos &+= 8
                    continue
                }
                pos &+= mask.trailingZeroBitCount &>> 3
                break
            }
            guard pos < end else { return nil }
            let c = byte(pos)
            if c == 0x22 {
                pos &+= 1
                return escapes
            }
            if c >= 0x20 && c < 0x80 && c != 0x5C {
                pos &+= 1  // only in the last bytes of the line (fewer than 8 left)
                continue
            }
            if c == 0x5C {
                escapes = true
                guard scanEscape() else { return nil }
                continue
            }
            if c < 0x20 { return nil }
            guard scanUTF8Sequence(lead: c) else { return nil }
        }
    }

    /// The high bit of every byte of `w` that is `"`, `\`, below 0x20 or at least 0x80;
    /// bits above the lowest flagged byte may be spurious (borrows), the lowest is exact.
    @inline(__always)
    static func specialMask(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let q = w ^ 0x2222_2222_2222_2222
        let b = w ^ 0x5C5C_5C5C_5C5C_5C5C
        let quote = (q &- ones) & ~q
        let backslash = (b &- ones) & ~b
        let control = (w &- 0x2020_2020_2020_2020) & ~w
        return (quote | backslash | control | w) & highs
    }

    /// `pos` at a backslash: validates one escape and moves past it.
    mutating func scanEscape() -> Bool {
        guard pos + 1 < end else { return false }
        switch byte(pos + 1) {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
            UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            pos += 2
            return true
        case UInt8(ascii: "u"):
            guard let unit = hex4(at: pos + 2) else { return false }
            pos += 6
            if unit >= 0xDC00 && unit <= 0xDFFF { return false }  // lone low surrogate
            if unit >= 0xD800 && unit <= 0xDBFF {
                // A high surrogate must be followed by an escaped low surrogate.
                guard pos + 1 < end, byte(pos) == 0x5C, byte(pos + 1) == UInt8(ascii: "u"),
                    let low = hex4(at: pos + 2), low >= 0xDC00 && low <= 0xDFFF
                else { return false }
                pos += 6
            }
            return true
        default:
            return false
        }
    }

    /// Four hex digits at `at`, or nil.
    @inline(__always)
    func hex4(at: Int) -> UInt32? {
        guard at + 4 <= end else { return nil }
        var v: UInt32 = 0
        for i in at..<(at + 4) {
            guard let d = JSONEscapes.hexValue(byte(i)) else { return nil }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    /// `pos` at a non-ASCII byte inside a string: validates one UTF-8 sequence (Unicode
    /// Table 3-7, well-formed byte sequences) and moves past it.
    mutating func scanUTF8Sequence(lead c: UInt8) -> Bool {
        @inline(__always) func cont(_ i: Int) -> Bool { i < end && byte(i) & 0xC0 == 0x80 }
        @inline(__always) func inRange(_ i: Int, _ lo: UInt8, _ hi: UInt8) -> Bool {
            guard i < end else { return false }
            let b = byte(i)
            return b >= lo && b <= hi
        }
        switch c {
        case 0xC2...0xDF:
            guard cont(pos + 1) else { return false }
            pos += 2
        case 0xE0:
            guard inRange(pos + 1, 0xA0, 0xBF), cont(pos + 2) else { return false }
            pos += 3
        case 0xE1...0xEC, 0xEE...0xEF:
            guard cont(pos + 1), cont(pos + 2) else { return false }
            pos += 3
        case 0xED:
            guard inRange(pos + 1, 0x80, 0x9F), cont(pos + 2) else { return false }
            pos += 3
        case 0xF0:
            guard inRange(pos + 1, 0x90, 0xBF), cont(pos + 2), cont(pos + 3) else { return false }
            pos += 4
        case 0xF1...0xF3:
            guard cont(pos + 1), cont(pos + 2), cont(pos + 3) else { return false }
            pos += 4
        case 0xF4:
            guard inRange(pos + 1, 0x80, 0x8F), cont(pos + 2), cont(pos + 3) else { return false }
            pos += 4
        default:
            return false
        }
        return true
    }

    /// `pos` at the first byte of a number candidate: scans one number per the JSON grammar
    /// and returns its flags, or nil.
    @inline(__always)
    mutating func scanNumber() -> UInt8? {
        var flags: UInt8 = 0
        if byte(pos) == UInt8(ascii: "-") {
            flags |= JSONField.flagNegative
            pos += 1
            guard pos < end else { return nil }
        }
        let first = byte(pos)
        if first == UInt8(ascii: "0") {
            pos += 1
        } else if first &- 0x31 < 9 {
            pos += 1
            while pos < end, ByteCursor.isDigit(byte(pos)) { pos += 1 }
        } else {
            return nil
        }
        if pos < end && byte(pos) == UInt8(ascii: ".") {
            flags |= JSONField.flagFraction
            pos += 1
            guard pos < end, ByteCursor.isDigit(byte(pos)) else { return nil }
            pos += 1
            while pos < end, ByteCursor.isDigit(byte(pos)) { pos += 1 }
        }
        if pos < end && (byte(pos) | 0x20) == UInt8(ascii: "e") {
            flags |= JSONField.flagExponent
            pos += 1
            guard pos < end else { return nil }
            if byte(pos) == UInt8(ascii: "+") || byte(pos) == UInt8(ascii: "-") {
                pos += 1
            }
            guard pos < end, ByteCursor.isDigit(byte(pos)) else { return nil }
            pos += 1
            while pos < end, ByteCursor.isDigit(byte(pos)) { pos += 1 }
        }
        return flags
    }

    /// `pos` at the first byte of a literal: matches `word` exactly and moves past it.
    @inline(__always)
    mutating func scanLiteral(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8?)
        -> Bool
    {
        let n = b4 == nil ? 4 : 5
        guard pos + n <= end, byte(pos) == b0, byte(pos + 1) == b1, byte(pos + 2) == b2,
            byte(pos + 3) == b3
        else { return false }
        if let b4 {
            guard byte(pos + 4) == b4 else { return false }
        }
        pos += n
        return true
    }

    /// `pos` at the first byte of a scalar (string, number, true, false, null): scans it.
    @inline(__always)
    mutating func scanScalar() -> JSONField? {
        let start = pos
        let c = byte(pos)
        switch c {
        case UInt8(ascii: "\""):
            pos += 1
            guard let escapes = scanStringBody() else { return nil }
            return JSONField(
                kind: .string, flags: escapes ? JSONField.flagEscapes : 0, start: start + 1,
                end: pos - 1)
        case UInt8(ascii: "n"):
            guard scanLiteral(0x6E, 0x75, 0x6C, 0x6C, nil) else { return nil }
            return JSONField(kind: .null, flags: 0, start: start, end: pos)
        case UInt8(ascii: "t"):
            guard scanLiteral(0x74, 0x72, 0x75, 0x65, nil) else { return nil }
            return JSONField(kind: .bool, flags: JSONField.flagTrue, start: start, end: pos)
        case UInt8(ascii: "f"):
            guard scanLiteral(0x66, 0x61, 0x6C, 0x73, 0x65) else { return nil }
            return JSONField(kind: .bool, flags: 0, start: start, end: pos)
        default:
            guard c == UInt8(ascii: "-") || ByteCursor.isDigit(c), let flags = scanNumber()
            else { return nil }
            return JSONField(kind: .number, flags: flags, start: start, end: pos)
        }
    }

    /// `pos` at `{` or `[`: validates and skips the container, returning its kind and range.
    mutating func scanContainer() -> JSONField? {
        let start = pos
        let kind: JSONKind = byte(pos) == UInt8(ascii: "{") ? .object : .array
        guard skipValue() else { return nil }
        return JSONField(kind: kind, flags: 0, start: start, end: pos)
    }

    /// `pos` at the first byte of any JSON value: validates it and moves past it.
    /// Iterative: nesting depth is tracked in a `BracketStack`, not on the call stack.
    mutating func skipValue() -> Bool {
        var stack = BracketStack()
        while true {
            // State: at the start of a value (whitespace already skipped).
            guard pos < end else { return false }
            let c = byte(pos)
            if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
                let isObject = c == UInt8(ascii: "{")
                stack.push(isObject: isObject)
                pos += 1
                skipWhitespace()
                guard pos < end else { return false }
                let d = byte(pos)
                if d == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    pos += 1
                    stack.pop()
                    // Fall through to the after-value state.
                } else {
                    if isObject { guard scanKeyAndColon() else { return false } }
                    continue
                }
            } else {
                guard scanScalar() != nil else { return false }
            }
            // State: after a value.
            while true {
                if stack.depth == 0 { return true }
                skipWhitespace()
                guard pos < end else { return false }
                let d = byte(pos)
                let inObject = stack.topIsObject
                if d == UInt8(ascii: ",") {
                    pos += 1
                    skipWhitespace()
                    if inObject { guard scanKeyAndColon() else { return false } }
                    break  // to the value state
                }
                if d == (inObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    pos += 1
                    stack.pop()
                    continue
                }
                return false
            }
        }
    }

    /// `pos` at a key's opening quote (expected): scans the key, whitespace, the colon and
    /// the whitespace after it.
    @inline(__always)
    mutating func scanKeyAndColon() -> Bool {
        guard pos < end, byte(pos) == UInt8(ascii: "\"") else { return false }
        pos += 1
        guard scanStringBody() != nil else { return false }
        skipWhitespace()
        guard pos < end, byte(pos) == UInt8(ascii: ":") else { return false }
        pos += 1
        skipWhitespace()
        return true
    }
}

/// Which kind of container each open nesting level is, one bit per level (1 = object).
/// The first 64 levels live in a word; deeper levels (only in hostile input) spill into an
/// array of words that grows as needed, so any depth works without recursion.
struct BracketStack {
    var depth = 0
    var bits: UInt64 = 0
    var spill: [UInt64] = []

    @inline(__always)
    mutating func push(isObject: Bool) {
        if depth < 64 {
            let mask = UInt64(1) << UInt64(depth)
            bits = isObject ? bits | mask : bits & ~mask
        } else {
            let level = depth - 64
            let word = level >> 6
            if word == spill.count { spill.append(0) }
            let mask = UInt64(1) << UInt64(level & 63)
            spill[word] = isObject ? spill[word] | mask : spill[word] & ~mask
        }
        depth += 1
    }

    @inline(__always)
    mutating func pop() {
        depth -= 1
    }

    @inline(__always)
    var topIsObject: Bool {
        let top = depth - 1
        if top < 64 { return (bits >> UInt64(top)) & 1 == 1 }
        let level = top - 64
        return (spill[level >> 6] >> UInt64(level & 63)) & 1 == 1
    }
}

// MARK: - Unescaping

/// Decoding JSON string content that the scanner validated (the encoding side, for output,
/// is PodpipeCore's `JSONText`).
enum JSONEscapes {
    @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt8? {
        if c &- 0x30 < 10 { return c &- 0x30 }
        let lower = c | 0x20
        if lower &- 0x61 < 6 { return lower &- 0x61 &+ 10 }
        return nil
    }

    /// Decodes the escapes of validated string content into UTF-8 bytes. On content that was
    /// not validated, invalid escapes are copied through as they are (never traps).
    static func unescape(_ raw: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        let n = raw.count
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= n else { return nil }
            var v: UInt32 = 0
            for k in at..<(at + 4) {
                guard let d = hexValue(raw[k]) else { return nil }
                v = v << 4 | UInt32(d)
            }
            return v
        }
        func appendScalar(_ v: UInt32) {
            if v < 0x80 {
                out.append(UInt8(v))
            } else if v < 0x800 {
                out.append(UInt8(0xC0 | (v >> 6)))
                out.append(UInt8(0x80 | (v & 0x3F)))
            } else if v < 0x10000 {
                out.append(UInt8(0xE0 | (v >> 12)))
                out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
                out.append(UInt8(0x80 | (v & 0x3F)))
            } else {
                out.append(UInt8(0xF0 | (v >> 18)))
                out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
                out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
                out.append(UInt8(0x80 | (v & 0x3F)))
            }
        }
        while i < n {
            let c = raw[i]
            guard c == 0x5C, i + 1 < n else {
                out.append(c)
                i += 1
                continue
            }
            let e = raw[i + 1]
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard let unit = hex4(i + 2) else {
                    out.append(c)
                    i += 1
                    continue
                }
                if unit >= 0xD800 && unit <= 0xDBFF, i + 7 < n, raw[i + 6] == 0x5C,
                    raw[i + 7] == UInt8(ascii: "u"), let low = hex4(i + 8),
                    low >= 0xDC00 && low <= 0xDFFF
                {
                    appendScalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                    i += 12
                    continue
                }
                // A lone surrogate (only in unvalidated input) becomes U+FFFD.
                appendScalar(unit >= 0xD800 && unit <= 0xDFFF ? 0xFFFD : unit)
                i += 6
                continue
            default:
                out.append(e)  // \" \\ \/ (and anything else, in unvalidated input)
            }
            i += 2
        }
        return out
    }
}
