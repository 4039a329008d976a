// Timestamp and calendar-date rules (SPEC §4.1, §4.1.2), with days-from-civil arithmetic
// (proleptic Gregorian calendar, H. Hinnant's algorithms) and no Foundation.

/// Parsing and formatting of event timestamps and calendar dates, all in UTC.
///
/// Accepted timestamp form (after trimming surrounding ASCII whitespace):
///
///     YYYY-MM-DD ( "T" | " " ) HH:MM:SS [ "." digit+ ] [ "Z" | ("+" | "-") HH:MM ]
///
/// - exactly one `T` or one space between date and time (`t`, `z` and two spaces are
///   rejected: the spec names `T` and `Z`);
/// - a real calendar date (leap years per the Gregorian rules: 2024-02-29 is valid,
///   2023-02-29 and 2024-02-30 are not), hour 00–23, minute 00–59, second 00–59 (no leap
///   second, no `24:00:00`);
/// - the fraction has at least one digit and any number of them; it is truncated, not
///   rounded;
/// - without an offset the time is UTC; an offset may be `-00:00`…`±23:59` (the bound of the
///   RFC 3339 / ISO 8601 offset grammar; real zones use −12:00…+14:00, but the format does
///   not forbid more and rejecting it would gain nothing), with minutes 00–59.
public enum Timestamps {
    /// Seconds in a day.
    public static let secondsPerDay: Int64 = 86_400

    /// 9999-12-31T23:59:59Z, the last second of four-digit years: the latest event time
    /// podpipe accepts (``EventValidator/latestTimestamp``). SQLite's date functions, the
    /// `YYYY-MM-DD` texts of gold and the reports end there.
    public static let latestSupported: Int64 = 253_402_300_799

    /// Parses a timestamp given as UTF-8 bytes into UTC Unix seconds (fraction truncated),
    /// or nil if it is not a valid timestamp.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        guard let base = bytes.baseAddress else { return nil }
        var lo = 0
        var hi = bytes.count
        while lo < hi, isASCIIWhitespace(base.load(fromByteOffset: lo, as: UInt8.self)) {
            lo += 1
        }
        while hi > lo, isASCIIWhitespace(base.load(fromByteOffset: hi - 1, as: UInt8.self)) {
            hi -= 1
        }
        return parseTrimmed(base + lo, count: hi - lo)
    }

    /// Parses a timestamp string into UTC Unix seconds (fraction truncated), or nil.
    public static func parse(_ s: String) -> Int64? {
        var s = s
        return s.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    /// `2024-04-21T09:13:28Z` for an epoch second. (Meant for years 0–9999; values far
    /// outside give a meaningless text but never trap.)
    public static func formatUTC(_ epoch: Int64) -> String {
        let day = dayNumber(epoch)
        let secondOfDay = epoch &- day &* secondsPerDay
        let (y, m, d) = civilFromDays(day)
        var out = formatDate(y, m, d)
        out.append("T")
        appendPadded(&out, secondOfDay / 3600, width: 2)
        out.append(":")
        appendPadded(&out, (secondOfDay / 60) % 60, width: 2)
        out.append(":")
        appendPadded(&out, secondOfDay % 60, width: 2)
        out.append("Z")
        return out
    }

    /// `2024-04-21`, the UTC calendar day of an epoch second.
    public static func formatDay(_ epoch: Int64) -> String {
        let (y, m, d) = civilFromDays(dayNumber(epoch))
        return formatDate(y, m, d)
    }

    /// Parses exactly `YYYY-MM-DD` (no surrounding whitespace, no time part), a real
    /// calendar date, into the epoch second of its midnight UTC; nil otherwise.
    public static func parseDay(_ s: String) -> Int64? {
        var s = s
        return s.withUTF8 { buf -> Int64? in
            guard buf.count == 10, let base = buf.baseAddress else { return nil }
            guard let days = parseDate(UnsafeRawPointer(base)) else { return nil }
            return days * secondsPerDay
        }
    }

    /// The day number of an epoch second: floor(epoch / 86400) (day 0 is 1970-01-01).
    @inlinable
    public static func dayNumber(_ epoch: Int64) -> Int64 {
        let q = epoch / 86_400
        return (epoch % 86_400 < 0) ? q - 1 : q
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (month 1–12, day 1–31; not
    /// range-checked).
    public static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The proleptic Gregorian date of a day number (days since 1970-01-01).
    public static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// Whether `year` is a Gregorian leap year.
    @inlinable
    public static func isLeapYear(_ year: Int64) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    /// Number of days in a month (1–12) of a year.
    @inlinable
    public static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    // MARK: - Internals

    @inline(__always)
    static func isASCIIWhitespace(_ c: UInt8) -> Bool {
        c == 0x20 || (c >= 0x09 && c <= 0x0D)
    }

    /// Two ASCII digits at `p + i` as a number, or -1.
    @inline(__always)
    static func twoDigits(_ p: UnsafeRawPointer, _ i: Int) -> Int64 {
        let a = p.load(fromByteOffset: i, as: UInt8.self) &- 0x30
        let b = p.load(fromByteOffset: i + 1, as: UInt8.self) &- 0x30
        guard a < 10, b < 10 else { return -1 }
        return Int64(a) * 10 + Int64(b)
    }

    @inline(__always)
    static func byte(_ p: UnsafeRawPointer, _ i: Int) -> UInt8 {
        p.load(fromByteOffset: i, as: UInt8.self)
    }

    /// `YYYY-MM-DD` at `p` (10 bytes available): its day number, or nil.
    @inline(__always)
    static func parseDate(_ p: UnsafeRawPointer) -> Int64? {
        let yHigh = twoDigits(p, 0)
        let yLow = twoDigits(p, 2)
        let month = twoDigits(p, 5)
        let day = twoDigits(p, 8)
        guard yHigh >= 0, yLow >= 0, month >= 1, month <= 12, day >= 1,
            byte(p, 4) == UInt8(ascii: "-"), byte(p, 7) == UInt8(ascii: "-")
        else { return nil }
        let year = yHigh * 100 + yLow
        // Month lengths without a jump table: 31 for months 1 3 5 7 8 10 12, else 30;
        // February per the leap-year rule.
        let monthLength: Int64 =
            month == 2 ? (isLeapYear(year) ? 29 : 28) : 30 | ((month ^ (month >> 3)) & 1)
        guard day <= monthLength else { return nil }
        return daysFromCivil4(year: year, month: month, day: day)
    }

    /// `daysFromCivil` for a checked date of a four-digit year (0–9999), in unsigned,
    /// branch-light arithmetic (the hot path of timestamp parsing). Years are shifted by one
    /// 400-year cycle so that everything stays non-negative.
    @inline(__always)
    static func daysFromCivil4(year: Int64, month: Int64, day: Int64) -> Int64 {
        let shifted = UInt64(truncatingIfNeeded: year &+ 400)  // 400...10399
        let before = shifted &- 1
        let leaps = before / 4 &- before / 100 &+ before / 400
        // Days before the first of the month in a common year, without a table or a jump:
        // (367m − 362) / 12, less 2 after February.
        let m = UInt64(truncatingIfNeeded: month)
        let cumulative = (367 &* m &- 362) / 12 &- (m > 2 ? 2 : 0)
        let leapDay: UInt64 = month > 2 && isLeapYear(year) ? 1 : 0
        // 865_624 = days from 0400-01-01-shifted origin to 1970-01-01 (2370 × 365 + 574).
        let days = shifted &* 365 &+ leaps &+ cumulative &+ leapDay &+ UInt64(truncatingIfNeeded: day) &- 1
        return Int64(truncatingIfNeeded: days) &- 865_624
    }

    /// Parses an already trimmed timestamp of `count` bytes at `p`.
    static func parseTrimmed(_ p: UnsafeRawPointer, count n: Int) -> Int64? {
        guard n >= 19, let days = parseDate(p) else { return nil }
        let sep = byte(p, 10)
        guard sep == UInt8(ascii: "T") || sep == UInt8(ascii: " ") else { return nil }
        let hour = twoDigits(p, 11)
        let minute = twoDigits(p, 14)
        let second = twoDigits(p, 17)
        guard hour >= 0, hour <= 23, minute >= 0, minute <= 59, second >= 0, second <= 59,
            byte(p, 13) == UInt8(ascii: ":"), byte(p, 16) == UInt8(ascii: ":")
        else { return nil }
        var i = 19
        if i < n && byte(p, i) == UInt8(ascii: ".") {
            i += 1
            let digitsStart = i
            while i < n, byte(p, i) &- 0x30 < 10 { i += 1 }
            guard i > digitsStart else { return nil }
        }
        var offset: Int64 = 0
        if i < n {
            let c = byte(p, i)
            if c == UInt8(ascii: "Z") {
                i += 1
            } else if c == UInt8(ascii: "+") || c == UInt8(ascii: "-") {
                guard i + 6 <= n else { return nil }
                let oh = twoDigits(p, i + 1)
                let om = twoDigits(p, i + 4)
                guard oh >= 0, oh <= 23, om >= 0, om <= 59, byte(p, i + 3) == UInt8(ascii: ":")
                else { return nil }
                offset = (oh * 3600 + om * 60) * (c == UInt8(ascii: "-") ? -1 : 1)
                i += 6
            } else {
                return nil
            }
        }
        guard i == n else { return nil }
        return days * secondsPerDay + hour * 3600 + minute * 60 + second - offset
    }

    static func formatDate(_ y: Int64, _ m: Int64, _ d: Int64) -> String {
        var out = ""
        out.reserveCapacity(20)
        if y < 0 { out.append("-") }
        appendPadded(&out, y < 0 ? -y : y, width: 4)
        out.append("-")
        appendPadded(&out, m, width: 2)
        out.append("-")
        appendPadded(&out, d, width: 2)
        return out
    }

    static func appendPadded(_ out: inout String, _ value: Int64, width: Int) {
        let digits = String(value)
        if digits.utf8.count < width {
            out.append(String(repeating: "0", count: width - digits.utf8.count))
        }
        out.append(digits)
    }
}
