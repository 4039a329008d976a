// One event line as a value: what each field looks like (its "form") plus the event it
// was made from. The expected error codes are a pure function of the forms (the oracle,
// SPEC §4.1), and rendering writes the bytes straight into the output buffer.

/// The error codes of SPEC §4.1, in the order rows list them.
enum ExpectedCode: Int, CaseIterable {
    case malformedJSON, notAnObject, missingUserId, emptyUserId, invalidUserId
    case missingEpisodeId, emptyEpisodeId, invalidEpisodeId, missingEventType
    case invalidEventType, missingTimestamp, invalidTimestamp, timestampTooEarly
    case timestampInFuture, invalidDurationForPlayComplete, nonNullDurationForOtherEvent

    var name: String {
        switch self {
        case .malformedJSON: "malformed_json"
        case .notAnObject: "not_an_object"
        case .missingUserId: "missing_user_id"
        case .emptyUserId: "empty_user_id"
        case .invalidUserId: "invalid_user_id"
        case .missingEpisodeId: "missing_episode_id"
        case .emptyEpisodeId: "empty_episode_id"
        case .invalidEpisodeId: "invalid_episode_id"
        case .missingEventType: "missing_event_type"
        case .invalidEventType: "invalid_event_type"
        case .missingTimestamp: "missing_timestamp"
        case .invalidTimestamp: "invalid_timestamp"
        case .timestampTooEarly: "timestamp_too_early"
        case .timestampInFuture: "timestamp_in_future"
        case .invalidDurationForPlayComplete: "invalid_duration_for_play_complete"
        case .nonNullDurationForOtherEvent: "non_null_duration_for_other_event"
        }
    }

    var bit: UInt32 { 1 << UInt32(rawValue) }

    static func names(_ mask: UInt32) -> [String] {
        allCases.filter { mask & $0.bit != 0 }.map(\.name)
    }
}

/// play, pause, seek, complete.
enum Kind: UInt8 {
    case play = 0, pause, seek, complete

    var carriesDuration: Bool { self == .play || self == .complete }

    var name: String {
        switch self {
        case .play: "play"
        case .pause: "pause"
        case .seek: "seek"
        case .complete: "complete"
        }
    }
}

enum IdForm: UInt8 {
    case canonical, absent, null, empty, whitespace, boolean, array, object, fractional
    case integer, digitString, padded, escaped
}

enum TypeForm: UInt8 {
    case canonical, absent, null, empty, unknown, upper, padded
}

enum TimeForm: UInt8 {
    case canonical, absent, null, empty, malformed, dateOnly, impossible, numeric, otherFormat
    case tooEarly, tooEarlyByOffset, future
    case space, zulu, offset, fraction, fractionZone
}

enum DurationForm: UInt8 {
    case canonical  // integer for play/complete, null for pause/seek
    case absent, null, integer, zero, negative, fractional, nonNumeric, digitString
    case integralFloat
}

enum LineBody: UInt8 {
    case object, emptyObject
    case truncated, garbage, invalidUTF8, concatenated
    case number, array, null, string, boolean
}

/// A generated event before it is written: who, what, when.
struct EventRecord {
    var timestamp: Int64
    var user: Int32  // id number: user_<n>
    var episode: Int32  // ep_<n>
    var kind: Kind
    var duration: Int32  // seconds for play/complete, 0 otherwise
}

/// How one line spells an event.
struct EventLine {
    var event: EventRecord
    var body: LineBody = .object
    var userForm: IdForm = .canonical
    var episodeForm: IdForm = .canonical
    var typeForm: TypeForm = .canonical
    var timeForm: TimeForm = .canonical
    var durationForm: DurationForm = .canonical
    /// Value written for a non-canonical duration on pause/seek.
    var otherDuration: Int32 = 30
    var reordered = false
    var compact = false
    var extras: UInt8 = 0
    var surround: UInt8 = 0
    /// Random bits for the sub-variants of the forms (each form reads its own slice).
    var variant: UInt32 = 0

    init(_ event: EventRecord) { self.event = event }

    // MARK: oracle

    /// The exact codes SPEC §4.1 gives this line.
    var expectedCodes: UInt32 {
        switch body {
        case .truncated, .garbage, .invalidUTF8, .concatenated:
            return ExpectedCode.malformedJSON.bit
        case .number, .array, .null, .string, .boolean:
            return ExpectedCode.notAnObject.bit
        case .emptyObject:
            return ExpectedCode.missingUserId.bit | ExpectedCode.missingEpisodeId.bit
                | ExpectedCode.missingEventType.bit | ExpectedCode.missingTimestamp.bit
        case .object:
            break
        }
        var codes: UInt32 = 0
        codes |= EventLine.idCode(
            userForm, missing: .missingUserId, empty: .emptyUserId, invalid: .invalidUserId)
        codes |= EventLine.idCode(
            episodeForm, missing: .missingEpisodeId, empty: .emptyEpisodeId,
            invalid: .invalidEpisodeId)
        var typeValid = false
        switch typeForm {
        case .absent, .null: codes |= ExpectedCode.missingEventType.bit
        case .empty, .unknown: codes |= ExpectedCode.invalidEventType.bit
        case .canonical, .upper, .padded: typeValid = true
        }
        switch timeForm {
        case .absent, .null: codes |= ExpectedCode.missingTimestamp.bit
        case .empty, .malformed, .dateOnly, .impossible, .numeric, .otherFormat:
            codes |= ExpectedCode.invalidTimestamp.bit
        case .tooEarly, .tooEarlyByOffset: codes |= ExpectedCode.timestampTooEarly.bit
        case .future: codes |= ExpectedCode.timestampInFuture.bit
        case .canonical, .space, .zulu, .offset, .fraction, .fractionZone: break
        }
        if typeValid {
            if event.kind.carriesDuration {
                switch durationForm {
                case .canonical, .integer, .digitString, .integralFloat:
                    if event.duration <= 0 {
                        codes |= ExpectedCode.invalidDurationForPlayComplete.bit
                    }
                case .absent, .null, .zero, .negative, .fractional, .nonNumeric:
                    codes |= ExpectedCode.invalidDurationForPlayComplete.bit
                }
            } else {
                switch durationForm {
                case .canonical, .absent, .null: break
                default: codes |= ExpectedCode.nonNullDurationForOtherEvent.bit
                }
            }
        }
        return codes
    }

    private static func idCode(
        _ form: IdForm, missing: ExpectedCode, empty: ExpectedCode, invalid: ExpectedCode
    ) -> UInt32 {
        switch form {
        case .absent, .null: missing.bit
        case .empty, .whitespace: empty.bit
        case .boolean, .array, .object, .fractional: invalid.bit
        case .canonical, .integer, .digitString, .padded, .escaped: 0
        }
    }

    /// The user id silver stores (valid lines only).
    var userKey: String {
        userForm == .integer || userForm == .digitString
            ? String(event.user) : "user_" + String(event.user)
    }

    /// The episode id silver stores (valid lines only).
    var episodeKey: String {
        episodeForm == .integer || episodeForm == .digitString
            ? String(event.episode) : "ep_" + String(event.episode)
    }

    /// The duration silver stores (valid lines only).
    var storedDuration: Int? {
        event.kind.carriesDuration ? Int(event.duration) : nil
    }

    // MARK: rendering

    /// Writes the line's bytes, without the line end.
    func render(into out: OutputBuffer) {
        let leading = surround & 1 != 0
        let trailing = surround & 2 != 0
        if leading { out.ascii(variant & (1 << 24) != 0 ? "\t " : "  ") }
        switch body {
        case .object:
            renderObject(into: out, invalidUTF8: false)
        case .emptyObject:
            out.ascii(variant & 1 == 0 ? "{}" : "{ }")
        case .invalidUTF8:
            renderObject(into: out, invalidUTF8: true)
        case .truncated:
            let start = out.count
            renderObject(into: out, invalidUTF8: false)
            let length = out.count - start
            // Keep at least "{" and drop at least the closing "}".
            let keep = 1 + Int((variant >> 8) % UInt32(max(1, length - 2)))
            out.count = start + keep
        case .concatenated:
            renderObject(into: out, invalidUTF8: false)
            if variant & 1 != 0 { out.byte(UInt8(ascii: " ")) }
            renderObject(into: out, invalidUTF8: false)
        case .garbage:
            EventLine.renderGarbage(Int((variant >> 21) % 7), into: out)
        case .number:
            if variant & 1 == 0 { out.ascii("42") } else { out.signed(Int(event.timestamp)) }
        case .array:
            if variant & 1 == 0 {
                out.ascii("[1, 2]")
            } else {
                out.byte(UInt8(ascii: "["))
                renderObject(into: out, invalidUTF8: false)
                out.byte(UInt8(ascii: "]"))
            }
        case .null:
            out.ascii("null")
        case .string:
            out.ascii(variant & 1 == 0 ? "\"x\"" : "\"play\"")
        case .boolean:
            out.ascii(variant & 1 == 0 ? "true" : "false")
        }
        if trailing { out.ascii(variant & (1 << 25) != 0 ? " \t" : "   ") }
    }

    private static func renderGarbage(_ which: Int, into out: OutputBuffer) {
        switch which {
        case 0: out.ascii("<html><body><h1>502 Bad Gateway</h1></body></html>")
        case 1: out.ascii("event_type=play&user_id=user_1&episode_id=ep_1")
        case 2: out.ascii("{'event_type': 'play', 'user_id': 'user_1'}")
        case 3: out.ascii("{\"event_type\": \"play\" \"user_id\": \"user_1\"}")
        case 4: out.ascii("{\"event_type\": \"play\", \"user_id\": user_1}")
        case 5: out.ascii("ERROR 2024-01-01 upstream connection reset by peer")
        default: out.ascii("{\"event_type\": \"play\", \"duration\": NaN}")
        }
    }

    private func renderObject(into out: OutputBuffer, invalidUTF8: Bool) {
        out.byte(UInt8(ascii: "{"))
        var first = true
        if reordered {
            renderUser(into: out, first: &first, invalidUTF8: invalidUTF8)
            renderEpisode(into: out, first: &first)
            renderType(into: out, first: &first)
            renderDuration(into: out, first: &first)
            renderTime(into: out, first: &first)
        } else {
            renderType(into: out, first: &first)
            renderUser(into: out, first: &first, invalidUTF8: invalidUTF8)
            renderEpisode(into: out, first: &first)
            renderTime(into: out, first: &first)
            renderDuration(into: out, first: &first)
        }
        if extras != 0 { renderExtras(into: out, first: &first) }
        out.byte(UInt8(ascii: "}"))
    }

    @inline(__always)
    private func key(_ name: StaticString, into out: OutputBuffer, first: inout Bool) {
        if !first { out.ascii(compact ? "," : ", ") }
        first = false
        out.ascii(name)
        out.ascii(compact ? ":" : ": ")
    }

    private func renderId(
        _ form: IdForm, number: Int32, prefix: StaticString, escapedPrefix: StaticString,
        slice: UInt32, into out: OutputBuffer
    ) {
        switch form {
        case .canonical:
            out.byte(UInt8(ascii: "\""))
            out.ascii(prefix)
            out.unsigned(Int(number))
            out.byte(UInt8(ascii: "\""))
        case .absent:
            break
        case .null:
            out.ascii("null")
        case .empty:
            out.ascii("\"\"")
        case .whitespace:
            out.ascii(slice & 1 == 0 ? "\"   \"" : "\" \\t \"")
        case .boolean:
            out.ascii(slice & 1 == 0 ? "true" : "false")
        case .array:
            out.ascii("[\"")
            out.ascii(prefix)
            out.unsigned(Int(number))
            out.ascii("\"]")
        case .object:
            out.ascii("{\"id\": \"")
            out.ascii(prefix)
            out.unsigned(Int(number))
            out.ascii("\"}")
        case .fractional:
            out.unsigned(Int(number))
            out.ascii(".5")
        case .integer:
            out.unsigned(Int(number))
        case .digitString:
            out.byte(UInt8(ascii: "\""))
            out.unsigned(Int(number))
            out.byte(UInt8(ascii: "\""))
        case .padded:
            out.ascii(slice & 1 == 0 ? "\" " : "\"\\t")
            out.ascii(prefix)
            out.unsigned(Int(number))
            out.ascii(slice & 2 == 0 ? " \"" : "  \"")
        case .escaped:
            out.byte(UInt8(ascii: "\""))
            out.ascii(escapedPrefix)
            out.unsigned(Int(number))
            out.byte(UInt8(ascii: "\""))
        }
    }

    private func renderUser(into out: OutputBuffer, first: inout Bool, invalidUTF8: Bool) {
        if invalidUTF8 {
            key("\"user_id\"", into: out, first: &first)
            out.ascii("\"user_")
            out.unsigned(Int(event.user))
            switch (variant >> 3) % 5 {
            case 0: out.byte(0xFF)
            case 1: out.byte(0xC3); out.byte(0x28)
            case 2: out.byte(0xED); out.byte(0xA0); out.byte(0x80)
            case 3: out.byte(0xE2); out.byte(0x82)
            default: out.byte(0xC0); out.byte(0xAF)
            }
            out.byte(UInt8(ascii: "\""))
            return
        }
        guard userForm != .absent else { return }
        key("\"user_id\"", into: out, first: &first)
        renderId(
            userForm, number: event.user, prefix: "user_", escapedPrefix: "user\\u005f",
            slice: variant, into: out)
    }

    private func renderEpisode(into out: OutputBuffer, first: inout Bool) {
        guard episodeForm != .absent else { return }
        key("\"episode_id\"", into: out, first: &first)
        renderId(
            episodeForm, number: event.episode, prefix: "ep_", escapedPrefix: "ep\\u005F",
            slice: variant >> 3, into: out)
    }

    private func renderType(into out: OutputBuffer, first: inout Bool) {
        guard typeForm != .absent else { return }
        key("\"event_type\"", into: out, first: &first)
        switch typeForm {
        case .canonical:
            switch event.kind {
            case .play: out.ascii("\"play\"")
            case .pause: out.ascii("\"pause\"")
            case .seek: out.ascii("\"seek\"")
            case .complete: out.ascii("\"complete\"")
            }
        case .absent:
            break
        case .null:
            out.ascii("null")
        case .empty:
            out.ascii("\"\"")
        case .unknown:
            switch (variant >> 6) % 4 {
            case 0: out.ascii("\"download\"")
            case 1: out.ascii("\"stop\"")
            case 2: out.ascii("\"like\"")
            default: out.ascii("\"buffering\"")
            }
        case .upper:
            let capital = (variant >> 6) & 1 == 0
            switch event.kind {
            case .play: out.ascii(capital ? "\"PLAY\"" : "\"Play\"")
            case .pause: out.ascii(capital ? "\"PAUSE\"" : "\"Pause\"")
            case .seek: out.ascii(capital ? "\"SEEK\"" : "\"Seek\"")
            case .complete: out.ascii(capital ? "\"COMPLETE\"" : "\"Complete\"")
            }
        case .padded:
            switch event.kind {
            case .play: out.ascii("\" Play \"")
            case .pause: out.ascii("\"pause \"")
            case .seek: out.ascii("\"  SEEK\"")
            case .complete: out.ascii("\" complete\\t\"")
            }
        }
    }

    private static let offsets: [Int] = [120, -300, 330, 60, -480, 0, 540, -210]

    private func zone(_ minutes: Int, into out: OutputBuffer) {
        out.byte(UInt8(ascii: minutes < 0 ? "-" : "+"))
        let magnitude = abs(minutes)
        out.twoDigits(magnitude / 60)
        out.byte(UInt8(ascii: ":"))
        out.twoDigits(magnitude % 60)
    }

    private func fraction(_ which: UInt32, into out: OutputBuffer) {
        switch which % 8 {
        case 0: out.ascii(".5")
        case 1: out.ascii(".25")
        case 2: out.ascii(".123")
        case 3: out.ascii(".999")
        case 4: out.ascii(".000")
        case 5: out.ascii(".123456")
        case 6: out.ascii(".9")
        default: out.ascii(".000001")
        }
    }

    private func renderTime(into out: OutputBuffer, first: inout Bool) {
        guard timeForm != .absent else { return }
        key("\"timestamp\"", into: out, first: &first)
        let ts = event.timestamp
        let slice = variant >> 9
        let quote = UInt8(ascii: "\"")
        switch timeForm {
        case .absent:
            return
        case .null:
            out.ascii("null")
        case .numeric:
            if slice & 1 == 0 { out.signed(Int(ts)) } else { out.signed(Int(ts) * 1000 + 123) }
        case .canonical:
            out.byte(quote)
            out.dateTime(ts)
            out.byte(quote)
        case .space:
            out.byte(quote)
            out.dateTime(ts, separator: UInt8(ascii: " "))
            out.byte(quote)
        case .zulu:
            out.byte(quote)
            out.dateTime(ts)
            out.byte(UInt8(ascii: "Z"))
            out.byte(quote)
        case .offset:
            let minutes = EventLine.offsets[Int(slice % 8)]
            out.byte(quote)
            out.dateTime(ts + Int64(minutes * 60))
            zone(minutes, into: out)
            out.byte(quote)
        case .fraction:
            out.byte(quote)
            out.dateTime(ts)
            fraction(slice, into: out)
            out.byte(quote)
        case .fractionZone:
            out.byte(quote)
            if slice & 8 == 0 {
                out.dateTime(ts)
                fraction(slice, into: out)
                out.byte(UInt8(ascii: "Z"))
            } else {
                let minutes = EventLine.offsets[Int((slice >> 4) % 8)]
                out.dateTime(ts + Int64(minutes * 60))
                fraction(slice, into: out)
                zone(minutes, into: out)
            }
            out.byte(quote)
        case .empty:
            out.ascii("\"\"")
        case .malformed:
            out.ascii("\"malformed-date\"")
        case .dateOnly:
            out.byte(quote)
            out.day(Int(CivilTime.floorDiv(ts, CivilTime.secondsPerDay)))
            out.byte(quote)
        case .impossible:
            renderImpossible(slice % 6, into: out)
        case .otherFormat:
            renderOtherFormat(slice % 4, into: out)
        case .tooEarly:
            switch slice % 3 {
            case 0:
                // Somewhere in 1997–1999, same time of day.
                let early = 946_684_799 - (ts % (3 * 365 * 86_400))
                out.byte(quote)
                out.dateTime(early)
                out.byte(quote)
            case 1:
                out.ascii("\"1970-01-01T00:00:00\"")
            default:
                out.ascii("\"1999-12-31T23:59:59Z\"")
            }
        case .tooEarlyByOffset:
            out.ascii(
                slice & 1 == 0 ? "\"2000-01-01T01:30:00+02:00\"" : "\"2000-01-01T00:59:59+01:00\"")
        case .future:
            out.byte(quote)
            out.dateTime(ts + 75 * 365 * 86_400)
            if slice & 1 != 0 { out.byte(UInt8(ascii: "Z")) }
            out.byte(quote)
        }
    }

    private func clock(_ seconds: Int, into out: OutputBuffer) {
        out.twoDigits(seconds / 3600)
        out.byte(UInt8(ascii: ":"))
        out.twoDigits(seconds / 60 % 60)
        out.byte(UInt8(ascii: ":"))
        out.twoDigits(seconds % 60)
    }

    private func renderImpossible(_ which: UInt32, into out: OutputBuffer) {
        let days = Int(CivilTime.floorDiv(event.timestamp, CivilTime.secondsPerDay))
        let seconds = Int(event.timestamp - Int64(days) * CivilTime.secondsPerDay)
        let civil = CivilTime.civilFromDays(days)
        out.byte(UInt8(ascii: "\""))
        switch which {
        case 0:  // February 30th
            out.fourDigits(civil.year)
            out.ascii("-02-30T")
            clock(seconds, into: out)
        case 1:  // not a leap year
            out.ascii("2023-02-29T")
            clock(seconds, into: out)
        case 2:  // month 13
            out.fourDigits(civil.year)
            out.ascii("-13-")
            out.twoDigits(min(civil.day, 28))
            out.byte(UInt8(ascii: "T"))
            clock(seconds, into: out)
        case 3:  // April 31st
            out.fourDigits(civil.year)
            out.ascii("-04-31T")
            clock(seconds, into: out)
        case 4:  // hour 25
            out.day(days)
            out.ascii("T25:")
            out.twoDigits(seconds / 60 % 60)
            out.byte(UInt8(ascii: ":"))
            out.twoDigits(seconds % 60)
        default:  // minute 61
            out.day(days)
            out.byte(UInt8(ascii: "T"))
            out.twoDigits(seconds / 3600)
            out.ascii(":61:")
            out.twoDigits(seconds % 60)
        }
        out.byte(UInt8(ascii: "\""))
    }

    private func renderOtherFormat(_ which: UInt32, into out: OutputBuffer) {
        let days = Int(CivilTime.floorDiv(event.timestamp, CivilTime.secondsPerDay))
        let seconds = Int(event.timestamp - Int64(days) * CivilTime.secondsPerDay)
        let civil = CivilTime.civilFromDays(days)
        out.byte(UInt8(ascii: "\""))
        switch which {
        case 0:  // 2024/03/05 10:00:00
            out.fourDigits(civil.year)
            out.byte(UInt8(ascii: "/"))
            out.twoDigits(civil.month)
            out.byte(UInt8(ascii: "/"))
            out.twoDigits(civil.day)
            out.byte(UInt8(ascii: " "))
            clock(seconds, into: out)
        case 1:  // 05/03/2024 10:00:00
            out.twoDigits(civil.day)
            out.byte(UInt8(ascii: "/"))
            out.twoDigits(civil.month)
            out.byte(UInt8(ascii: "/"))
            out.fourDigits(civil.year)
            out.byte(UInt8(ascii: " "))
            clock(seconds, into: out)
        case 2:  // no seconds
            out.day(days)
            out.byte(UInt8(ascii: "T"))
            out.twoDigits(seconds / 3600)
            out.byte(UInt8(ascii: ":"))
            out.twoDigits(seconds / 60 % 60)
        default:  // ISO 8601 basic format
            out.fourDigits(civil.year)
            out.twoDigits(civil.month)
            out.twoDigits(civil.day)
            out.byte(UInt8(ascii: "T"))
            out.twoDigits(seconds / 3600)
            out.twoDigits(seconds / 60 % 60)
            out.twoDigits(seconds % 60)
        }
        out.byte(UInt8(ascii: "\""))
    }

    private func renderDuration(into out: OutputBuffer, first: inout Bool) {
        let carries = event.kind.carriesDuration
        let value = Int(carries ? event.duration : otherDuration)
        let slice = variant >> 13
        switch durationForm {
        case .absent:
            return
        case .canonical:
            key("\"duration\"", into: out, first: &first)
            if carries { out.signed(value) } else { out.ascii("null") }
        case .null:
            key("\"duration\"", into: out, first: &first)
            out.ascii("null")
        case .integer:
            key("\"duration\"", into: out, first: &first)
            out.signed(value)
        case .zero:
            key("\"duration\"", into: out, first: &first)
            out.byte(UInt8(ascii: "0"))
        case .negative:
            key("\"duration\"", into: out, first: &first)
            out.signed(-max(1, value))
        case .fractional:
            key("\"duration\"", into: out, first: &first)
            out.signed(value)
            out.ascii(".5")
        case .nonNumeric:
            key("\"duration\"", into: out, first: &first)
            switch slice % 3 {
            case 0: out.ascii("\"abc\"")
            case 1: out.ascii("\"N/A\"")
            default: out.ascii("\"\"")
            }
        case .digitString:
            key("\"duration\"", into: out, first: &first)
            out.byte(UInt8(ascii: "\""))
            out.signed(value)
            out.byte(UInt8(ascii: "\""))
        case .integralFloat:
            key("\"duration\"", into: out, first: &first)
            out.signed(value)
            out.ascii(".0")
        }
    }

    private func renderExtras(into out: OutputBuffer, first: inout Bool) {
        switch extras {
        case 1:
            key("\"app_version\"", into: out, first: &first)
            out.ascii("\"4.12.0\"")
            key("\"platform\"", into: out, first: &first)
            out.ascii((variant >> 16) & 1 == 0 ? "\"ios\"" : "\"android\"")
        case 2:
            key("\"session_id\"", into: out, first: &first)
            out.ascii("\"s-")
            out.unsigned(Int(event.user))
            out.byte(UInt8(ascii: "-"))
            out.unsigned(Int(event.timestamp / 3600))
            out.byte(UInt8(ascii: "\""))
        case 3:
            key("\"context\"", into: out, first: &first)
            out.ascii("{\"device\": \"web\", \"network\": \"wifi\", \"offline\": false}")
        case 4:
            key("\"position\"", into: out, first: &first)
            out.unsigned(Int(event.timestamp % 3600))
            key("\"speed\"", into: out, first: &first)
            out.ascii("1.5")
        default:
            key("\"metadata\"", into: out, first: &first)
            out.ascii("null")
        }
    }
}
