import Testing

@testable import PodpipeRules

@Suite("Timestamps and dates")
struct TimestampTests {
    @Test func basicForms() {
        let base: Int64 = 1_713_690_808  // 2024-04-21T09:13:28Z
        #expect(Timestamps.parse("2024-04-21T09:13:28") == base)
        #expect(Timestamps.parse("2024-04-21 09:13:28") == base)
        #expect(Timestamps.parse("2024-04-21T09:13:28Z") == base)
        #expect(Timestamps.parse("2024-04-21T09:13:28.123456789Z") == base)
        #expect(Timestamps.parse("2024-04-21T09:13:28.9") == base)
        #expect(Timestamps.parse("2024-04-21T11:13:28+02:00") == base)
        #expect(Timestamps.parse("2024-04-21T04:43:28-04:30") == base)
        #expect(Timestamps.parse("2024-04-21T09:13:28.5+00:00") == base)
        #expect(Timestamps.parse("2024-04-21T09:13:28-00:00") == base)
        #expect(Timestamps.parse(" \t2024-04-21T09:13:28Z \r\n") == base)
    }

    @Test func epochAndEarlyDates() {
        #expect(Timestamps.parse("1970-01-01T00:00:00Z") == 0)
        #expect(Timestamps.parse("1969-12-31T23:59:59Z") == -1)
        #expect(Timestamps.parse("2000-01-01T00:00:00Z") == 946_684_800)
        #expect(Timestamps.parse("0000-01-01T00:00:00Z") == -62_167_219_200)
        #expect(Timestamps.parse("9999-12-31T23:59:59Z") == 253_402_300_799)
    }

    @Test func leapYears() {
        #expect(Timestamps.parse("2024-02-29T12:00:00") != nil)
        #expect(Timestamps.parse("2023-02-29T12:00:00") == nil)
        #expect(Timestamps.parse("2024-02-30T00:00:00") == nil)
        #expect(Timestamps.parse("2000-02-29T00:00:00") != nil)  // divisible by 400
        #expect(Timestamps.parse("1900-02-29T00:00:00") == nil)  // divisible by 100
        #expect(Timestamps.parse("2100-02-29T00:00:00") == nil)
        #expect(
            Timestamps.parse("2024-03-01T00:00:00")! - Timestamps.parse("2024-02-28T00:00:00")! == 2 * 86_400)
    }

    @Test func monthLengths() {
        let lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        for (index, length) in lengths.enumerated() {
            let month = index + 1
            let mm = month < 10 ? "0\(month)" : "\(month)"
            #expect(Timestamps.parse("2023-\(mm)-\(length)T00:00:00") != nil, "month \(month)")
            #expect(Timestamps.parse("2023-\(mm)-\(length + 1)T00:00:00") == nil, "month \(month)")
        }
        #expect(Timestamps.parse("2023-00-10T00:00:00") == nil)
        #expect(Timestamps.parse("2023-13-10T00:00:00") == nil)
        #expect(Timestamps.parse("2023-01-00T00:00:00") == nil)
    }

    @Test func timeBounds() {
        #expect(Timestamps.parse("2024-04-21T23:59:59") != nil)
        #expect(Timestamps.parse("2024-04-21T24:00:00") == nil)
        #expect(Timestamps.parse("2024-04-21T23:60:00") == nil)
        #expect(Timestamps.parse("2024-04-21T23:59:60") == nil)  // no leap seconds
    }

    @Test func offsetsCrossingMidnight() {
        // 23:30 at -02:00 is 01:30 the next day in UTC.
        let next = Timestamps.parse("2024-12-31T23:30:00-02:00")
        #expect(next.map(Timestamps.formatUTC) == "2025-01-01T01:30:00Z")
        // 00:30 at +03:00 is 21:30 the day before in UTC.
        let previous = Timestamps.parse("2024-03-01T00:30:00+03:00")
        #expect(previous.map(Timestamps.formatUTC) == "2024-02-29T21:30:00Z")
        #expect(Timestamps.parse("2024-01-01T00:00:00+23:59") != nil)
        #expect(Timestamps.parse("2024-01-01T00:00:00+24:00") == nil)
        #expect(Timestamps.parse("2024-01-01T00:00:00+05:60") == nil)
    }

    @Test(arguments: [
        "", " ", "malformed-date", "2024-04-21", "2024-04-21T", "2024-04-21T09:13", "2024-4-21T09:13:28",
        "2024-04-21T9:13:28", "24-04-21T09:13:28", "2024/04/21T09:13:28", "2024-04-21t09:13:28",
        "2024-04-21T09:13:28z", "2024-04-21  09:13:28", "2024-04-21T09:13:28.", "2024-04-21T09:13:28.Z",
        "2024-04-21T09:13:28,5", "2024-04-21T09:13:28+02", "2024-04-21T09:13:28+0200",
        "2024-04-21T09:13:28+02:0", "2024-04-21T09:13:28 Z", "2024-04-21T09:13:28Z ", "1713690808",
        "2024-04-21T09:13:28+02:00Z", "2024-04-21T09-13-28", "+2024-04-21T09:13:28", "２０２４-04-21T09:13:28",
        "2024-04-21T09:13:28.1x",
    ])
    func invalidTimestamps(_ text: String) {
        // "…Z " is valid after trimming; every other entry must be rejected.
        if text == "2024-04-21T09:13:28Z " {
            #expect(Timestamps.parse(text) != nil)
        } else {
            #expect(Timestamps.parse(text) == nil, "\(text.debugDescription)")
        }
    }

    @Test func formatting() {
        #expect(Timestamps.formatUTC(1_713_690_808) == "2024-04-21T09:13:28Z")
        #expect(Timestamps.formatUTC(0) == "1970-01-01T00:00:00Z")
        #expect(Timestamps.formatUTC(-1) == "1969-12-31T23:59:59Z")
        #expect(Timestamps.formatDay(1_713_690_808) == "2024-04-21")
        #expect(Timestamps.formatDay(-1) == "1969-12-31")
        #expect(Timestamps.formatUTC(-62_167_219_200) == "0000-01-01T00:00:00Z")
        _ = Timestamps.formatUTC(Int64.min)  // must not trap
        _ = Timestamps.formatUTC(Int64.max)
    }

    @Test func dayHelpers() {
        #expect(Timestamps.dayNumber(0) == 0)
        #expect(Timestamps.dayNumber(86_399) == 0)
        #expect(Timestamps.dayNumber(86_400) == 1)
        #expect(Timestamps.dayNumber(-1) == -1)
        #expect(Timestamps.dayNumber(-86_400) == -1)
        #expect(Timestamps.dayNumber(-86_401) == -2)
        #expect(Timestamps.parseDay("2024-04-21") == 1_713_657_600)
        #expect(Timestamps.parseDay("2024-02-29") != nil)
        #expect(Timestamps.parseDay("2023-02-29") == nil)
        #expect(Timestamps.parseDay(" 2024-04-21") == nil)
        #expect(Timestamps.parseDay("2024-04-21T00:00:00") == nil)
        #expect(Timestamps.parseDay("2024-4-21") == nil)
        #expect(Timestamps.parseDay("") == nil)
    }

    /// The fast day arithmetic used by the parser agrees with the reference algorithm, and
    /// formatting round-trips, for every day of years 0000–9999.
    @Test func calendarArithmeticRoundTrips() {
        let first = Timestamps.daysFromCivil(year: 0, month: 1, day: 1)
        let last = Timestamps.daysFromCivil(year: 9999, month: 12, day: 31)
        var mismatches: [Int64] = []
        var expected: (Int64, Int64, Int64) = (0, 1, 1)
        for day in first...last {
            let (y, m, d) = Timestamps.civilFromDays(day)
            // Consecutive days advance the calendar by exactly one day.
            if (y, m, d) != expected { mismatches.append(day) }
            let length = Timestamps.daysInMonth(year: y, month: m)
            expected = d < length ? (y, m, d + 1) : (m < 12 ? (y, m + 1, 1) : (y + 1, 1, 1))
            if Timestamps.daysFromCivil(year: y, month: m, day: d) != day
                || Timestamps.daysFromCivil4(year: y, month: m, day: d) != day
            {
                mismatches.append(day)
            }
            if day % 97 == 0 {
                let text = Timestamps.formatDay(day * 86_400)
                if Timestamps.parseDay(text) != day * 86_400 { mismatches.append(day) }
            }
            if mismatches.count > 10 { break }
        }
        #expect(mismatches.isEmpty, "first mismatching days: \(mismatches)")
    }

    @Test func stringAndBytesAgree() {
        let text = "2024-04-21T09:13:28+02:00"
        let viaBytes = Array(text.utf8).withUnsafeBytes { Timestamps.parse($0) }
        #expect(viaBytes == Timestamps.parse(text))
    }
}
