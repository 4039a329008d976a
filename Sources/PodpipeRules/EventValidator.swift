// The event-row rules of SPEC §4.1, applied to one physical NDJSON line.

/// Validates event lines (SPEC §4.1) against a fixed "now".
///
/// A row gets every code that applies (see `EventErrors`); a line that is not JSON gets only
/// `malformed_json`, JSON that is not an object only `not_an_object`. The validator is a
/// plain value: create one per batch with the current time (`now` is fixed at init).
///
/// Decisions where the spec leaves room:
/// - a line is blank when it is empty or holds only ASCII whitespace (space, tab, LF, VT,
///   FF, CR);
/// - ids are trimmed of ASCII whitespace (after unescaping); a JSON integer id (optional
///   minus, digits, no fraction or exponent, any length) becomes its decimal text as
///   written (`5` → `"5"`, `-0` → `"-0"`);
/// - `event_type` is trimmed of ASCII whitespace and ASCII-lower-cased (no Unicode case
///   folding: the four names are ASCII); a non-string is `invalid_event_type`;
/// - `timestamp` must be a string (see `Timestamps` for the accepted form); a number is
///   `invalid_timestamp`; a valid one before 2000-01-01T00:00:00Z is `timestamp_too_early`,
///   one after `now + allowedFutureSkewSeconds` is `timestamp_in_future` (exactly at the
///   bound is accepted);
/// - play/complete `duration`: a JSON number whose value is exactly a positive integer of
///   at most 366 days (``maxDurationSeconds``: `300`, `300.0`, `3e2`, `3000e-1`), or a
///   string that is, after trimming, one or more ASCII digits with such a value (`"300"`,
///   `" 0300 "`); anything else, including null, absent, `0`, `-5`, `123.5`, `"abc"`,
///   `"+5"`, `"3e2"`, `31622401`, is `invalid_duration_for_play_complete`;
/// - pause/seek `duration`: anything but null or absent (even `0` or `""`) is
///   `non_null_duration_for_other_event`; the clean event has no duration.
public struct EventValidator: Sendable {
    /// The reference "now", in Unix seconds (UTC).
    public let now: Int64
    /// How far past `now` a timestamp may be before it is `timestamp_in_future`.
    public let allowedFutureSkewSeconds: Int64

    /// The longest play/complete duration accepted: 366 days. A longer listen is not a
    /// measurement but a broken or hostile value, and it would poison every sum it enters
    /// (one `complete` of 2^62 seconds made every gold refresh overflow). The bound keeps
    /// the fixed-point rates of gold (10^9 × seconds) and sums over billions of events
    /// within Int64. Longer is `invalid_duration_for_play_complete`.
    public static let maxDurationSeconds: Int64 = 366 * 86_400

    /// 2000-01-01T00:00:00Z: earlier timestamps are `timestamp_too_early`.
    public static let earliestTimestamp: Int64 = 946_684_800

    /// Creates a validator for a given "now" (Unix seconds) and allowed future clock skew.
    public init(now: Int64, allowedFutureSkewSeconds: Int64 = 300) {
        self.now = now
        self.allowedFutureSkewSeconds = allowedFutureSkewSeconds
    }

    /// The latest acceptable timestamp: `now + allowedFutureSkewSeconds` (saturating), and
    /// never past ``Timestamps/latestSupported`` (9999-12-31T23:59:59Z), whatever the skew:
    /// `9999-12-31T23:59:59-01:00` is a valid timestamp of year 10000 UTC, which no day,
    /// date text or SQLite date function downstream can represent; it can only be in the
    /// future, so it is `timestamp_in_future` rather than a value that breaks gold.
    @inlinable
    public var latestTimestamp: Int64 {
        let (sum, overflow) = now.addingReportingOverflow(allowedFutureSkewSeconds)
        let latest = overflow ? (allowedFutureSkewSeconds > 0 ? Int64.max : Int64.min) : sum
        return min(latest, Timestamps.latestSupported)
    }

    /// Validates one physical line given as a String.
    public func validate(_ line: String) -> LineOutcome {
        var line = line
        return line.withUTF8 { validate(UnsafeRawBufferPointer($0)) }
    }

    /// Validates one physical line: its bytes without the line terminator (the caller drops
    /// the LF, a CR before it, and a UTF-8 BOM at the start of a file).
    public func validate(_ line: UnsafeRawBufferPointer) -> LineOutcome {
        if EventValidator.isBlank(line) { return .blank }
        var members = EventMembers()
        switch NDJSONScanner.scan(line, into: &members) {
        case .malformed:
            return .invalid(EventErrors(.malformedJSON))
        case .notAnObject:
            return .invalid(EventErrors(.notAnObject))
        case .object:
            return check(members, in: line)
        }
    }

    /// Whether a line is empty or only ASCII whitespace.
    @inlinable
    public static func isBlank(_ line: UnsafeRawBufferPointer) -> Bool {
        for c in line where !(c == 0x20 || (c >= 0x09 && c <= 0x0D)) { return false }
        return true
    }

    // MARK: - Field rules

    /// An id that passed its rule, not yet turned into a String (so that rows that fail do
    /// not pay for it): the trimmed byte range in the line, or, for a string with escapes
    /// (rare), `escaped` and the String is rebuilt at the end.
    struct IdSpan {
        var lo: Int
        var hi: Int
        var escaped: Bool

        @inline(__always)
        func string(in line: UnsafeRawBufferPointer) -> String {
            if escaped {
                let bytes = JSONEscapes.unescape(UnsafeRawBufferPointer(rebasing: line[lo..<hi]))
                return bytes.withUnsafeBytes { buf in
                    let (a, b) = EventValidator.trimmedRange(buf, 0, buf.count)
                    return String(decoding: UnsafeRawBufferPointer(rebasing: buf[a..<b]), as: UTF8.self)
                }
            }
            // Same result as String(decoding:as:), which would validate the bytes again
            // (they are validated UTF-8 already).
            let bytes = UnsafeRawBufferPointer(rebasing: line[lo..<hi])
            return String(unsafeUninitializedCapacity: bytes.count) { buffer in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: bytes)
                return bytes.count
            }
        }
    }

    func check(_ m: borrowing EventMembers, in line: UnsafeRawBufferPointer) -> LineOutcome {
        var errors = EventErrors()

        let userId = idRule(
            m.userId, in: line, missing: .missingUserId, empty: .emptyUserId,
            invalid: .invalidUserId, errors: &errors)
        let episodeId = idRule(
            m.episodeId, in: line, missing: .missingEpisodeId, empty: .emptyEpisodeId,
            invalid: .invalidEpisodeId, errors: &errors)

        var eventType: EventType?
        switch m.eventType.kind {
        case .absent, .null:
            errors.insert(.missingEventType)
        case .string:
            eventType = EventValidator.eventType(m.eventType, in: line)
            if eventType == nil { errors.insert(.invalidEventType) }
        default:
            errors.insert(.invalidEventType)
        }

        var timestamp: Int64 = 0
        switch m.timestamp.kind {
        case .absent, .null:
            errors.insert(.missingTimestamp)
        case .string:
            let parsed: Int64?
            if m.timestamp.hasEscapes {
                let bytes = JSONEscapes.unescape(m.timestamp.rawBytes(in: line))
                parsed = bytes.withUnsafeBytes { Timestamps.parse($0) }
            } else {
                parsed = Timestamps.parse(m.timestamp.rawBytes(in: line))
            }
            if let parsed {
                timestamp = parsed
                if parsed < EventValidator.earliestTimestamp {
                    errors.insert(.timestampTooEarly)
                } else if parsed > latestTimestamp {
                    errors.insert(.timestampInFuture)
                }
            } else {
                errors.insert(.invalidTimestamp)
            }
        default:
            errors.insert(.invalidTimestamp)
        }

        var duration: Int64?
        if let eventType {
            if eventType.carriesDuration {
                duration = EventValidator.positiveDuration(m.duration, in: line)
                if duration == nil { errors.insert(.invalidDurationForPlayComplete) }
            } else if !m.duration.isNullOrAbsent {
                errors.insert(.nonNullDurationForOtherEvent)
            }
        }

        guard errors.isEmpty, let userId, let episodeId, let eventType else {
            return .invalid(errors)
        }
        return .valid(
            CleanEvent(
                userId: userId.string(in: line), episodeId: episodeId.string(in: line),
                eventType: eventType, timestamp: timestamp, duration: duration))
    }

    /// The id rule: missing / empty / invalid, or where the trimmed text is.
    @inline(__always)
    func idRule(
        _ f: JSONField, in line: UnsafeRawBufferPointer, missing: EventErrorCode,
        empty: EventErrorCode, invalid: EventErrorCode, errors: inout EventErrors
    ) -> IdSpan? {
        switch f.kind {
        case .absent, .null:
            errors.insert(missing)
            return nil
        case .string:
            if f.hasEscapes {
                let bytes = JSONEscapes.unescape(f.rawBytes(in: line))
                let isEmpty = bytes.withUnsafeBytes { buf -> Bool in
                    let (lo, hi) = EventValidator.trimmedRange(buf, 0, buf.count)
                    return lo == hi
                }
                if isEmpty {
                    errors.insert(empty)
                    return nil
                }
                return IdSpan(lo: f.start, hi: f.end, escaped: true)
            }
            let (lo, hi) = EventValidator.trimmedRange(line, f.start, f.end)
            if lo == hi {
                errors.insert(empty)
                return nil
            }
            return IdSpan(lo: lo, hi: hi, escaped: false)
        case .number where f.isIntegerLiteral:
            return IdSpan(lo: f.start, hi: f.end, escaped: false)
        default:
            errors.insert(invalid)
            return nil
        }
    }

    /// `start..<end` without leading and trailing ASCII whitespace.
    @inline(__always)
    static func trimmedRange(_ buf: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> (Int, Int) {
        var lo = start
        var hi = end
        while lo < hi, Timestamps.isASCIIWhitespace(buf[lo]) { lo += 1 }
        while hi > lo, Timestamps.isASCIIWhitespace(buf[hi - 1]) { hi -= 1 }
        return (lo, hi)
    }

    /// The event type of a string field (trimmed, ASCII-lower-cased), or nil.
    static func eventType(_ f: JSONField, in line: UnsafeRawBufferPointer) -> EventType? {
        if f.hasEscapes {
            let bytes = JSONEscapes.unescape(f.rawBytes(in: line))
            return bytes.withUnsafeBytes { eventTypeName($0, 0, $0.count) }
        }
        return eventTypeName(line, f.start, f.end)
    }

    /// The event type named by `start..<end` of `buf` after trimming and ASCII lower-casing.
    /// Compares whole words: `byte | 0x20` equals a lower-case letter exactly when the byte
    /// is that letter in either case, so no other byte can match.
    @inline(__always)
    static func eventTypeName(_ buf: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> EventType? {
        let (lo, hi) = trimmedRange(buf, start, end)
        guard let base = buf.baseAddress else { return nil }
        @inline(__always) func word32(_ at: Int) -> UInt32 {
            UInt32(littleEndian: base.loadUnaligned(fromByteOffset: at, as: UInt32.self)) | 0x2020_2020
        }
        switch hi - lo {
        case 4:
            let w = word32(lo)
            if w == 0x7961_6c70 { return .play }  // "play"
            if w == 0x6b65_6573 { return .seek }  // "seek"
        case 5:
            // "paus" + "ause" (overlapping).
            if word32(lo) == 0x7375_6170 && word32(lo + 1) == 0x6573_7561 { return .pause }
        case 8:
            let w =
                UInt64(littleEndian: base.loadUnaligned(fromByteOffset: lo, as: UInt64.self))
                | 0x2020_2020_2020_2020
            if w == 0x6574_656c_706d_6f63 { return .complete }  // "complete"
        default:
            break
        }
        return nil
    }

    /// The play/complete duration rule: a positive integer of at most
    /// ``maxDurationSeconds``, or nil.
    static func positiveDuration(_ f: JSONField, in line: UnsafeRawBufferPointer) -> Int64? {
        switch f.kind {
        case .number:
            guard !f.isNegative else { return nil }
            let value: Int64?
            if f.isIntegerLiteral {
                value = decimalDigitsValue(line, f.start, f.end)
            } else {
                value = integralNumberValue(f.rawBytes(in: line))
            }
            guard let value, value > 0, value <= maxDurationSeconds else { return nil }
            return value
        case .string:
            let value: Int64?
            if f.hasEscapes {
                let bytes = JSONEscapes.unescape(f.rawBytes(in: line))
                value = bytes.withUnsafeBytes { buf in
                    let (lo, hi) = trimmedRange(buf, 0, buf.count)
                    return decimalDigitsValue(buf, lo, hi)
                }
            } else {
                let (lo, hi) = trimmedRange(line, f.start, f.end)
                value = decimalDigitsValue(line, lo, hi)
            }
            guard let value, value > 0, value <= maxDurationSeconds else { return nil }
            return value
        default:
            return nil
        }
    }

    /// One or more ASCII digits in `start..<end` as an Int64; nil if empty, a non-digit, or
    /// too large.
    @inline(__always)
    static func decimalDigitsValue(_ buf: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int64? {
        guard start < end else { return nil }
        var value: Int64 = 0
        for i in start..<end {
            let d = buf[i] &- 0x30
            guard d < 10 else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            value = sum
        }
        return value
    }

    /// The exact value of a non-negative JSON number literal with a fraction and/or an
    /// exponent, if it is an integer that fits Int64 (`300.0`, `3e2`, `3000e-1`); nil
    /// otherwise. Exact decimal arithmetic, no floating point.
    static func integralNumberValue(_ literal: UnsafeRawBufferPointer) -> Int64? {
        // Significant digits (integer part then fraction part) and the power of ten that
        // scales them: value = digits × 10^scale.
        let n = literal.count
        var i = 0
        var digitsStart = -1
        var digitCount = 0  // significant digits kept, leading zeros skipped
        var fractionDigits = 0
        var inFraction = false
        while i < n {
            let c = literal[i]
            if c == UInt8(ascii: ".") {
                inFraction = true
            } else if c &- 0x30 < 10 {
                if inFraction { fractionDigits += 1 }
                if digitsStart < 0 && c != UInt8(ascii: "0") { digitsStart = i }
                if digitsStart >= 0 { digitCount += 1 }
            } else {
                break  // 'e' / 'E'
            }
            i += 1
        }
        var exponent: Int64 = 0
        if i < n {
            i += 1  // past 'e'
            var negative = false
            if i < n && (literal[i] == UInt8(ascii: "+") || literal[i] == UInt8(ascii: "-")) {
                negative = literal[i] == UInt8(ascii: "-")
                i += 1
            }
            while i < n {
                // Saturate: any exponent beyond this bound decides the same way.
                if exponent < 1_000_000_000 {
                    exponent = exponent * 10 + Int64(literal[i] &- 0x30)
                }
                i += 1
            }
            if negative { exponent = -exponent }
        }
        guard digitsStart >= 0 else { return 0 }  // the value is zero
        // Collect the significant digits, dropping trailing zeros into the scale.
        var digits: [UInt8] = []
        digits.reserveCapacity(digitCount)
        for k in digitsStart..<n {
            let c = literal[k]
            if c == UInt8(ascii: ".") { continue }
            guard c &- 0x30 < 10 else { break }
            digits.append(c &- 0x30)
        }
        var scale = exponent - Int64(fractionDigits)
        while let last = digits.last, last == 0 {
            digits.removeLast()
            scale += 1
        }
        guard scale >= 0, Int64(digits.count) + scale <= 19 else { return nil }
        var value: Int64 = 0
        for d in digits {
            let (t, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = t.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            value = s
        }
        for _ in 0..<scale {
            let (t, o) = value.multipliedReportingOverflow(by: 10)
            guard !o else { return nil }
            value = t
        }
        return value
    }
}
