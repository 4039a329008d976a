/// Every kind of dirt the generator puts into event files (SPEC §2.1, §4.1). Kinds marked
/// *valid* leave the row valid (a normaliser must accept them); the others make it carry
/// exactly the codes of SPEC §4.1. Counts are in ``SampleDataManifest/faultCounts``.
public enum SampleFaultKind: String, Sendable, Codable, CaseIterable {
    // user_id
    case userIdNull, userIdAbsent, userIdEmpty, userIdWhitespace
    case userIdBoolean, userIdArray, userIdObject, userIdFractional
    /// Valid: `5` → `"5"`.
    case userIdInteger
    /// Valid: `"5"`.
    case userIdDigitString
    /// Valid: surrounding spaces/tabs, trimmed.
    case userIdPadded
    /// Valid: a `\u005f` escape for the underscore.
    case userIdEscaped
    // episode_id
    case episodeIdNull, episodeIdAbsent, episodeIdEmpty, episodeIdWhitespace
    case episodeIdBoolean, episodeIdArray, episodeIdObject, episodeIdFractional
    case episodeIdInteger, episodeIdDigitString, episodeIdPadded, episodeIdEscaped
    // event_type
    case eventTypeNull, eventTypeAbsent, eventTypeEmpty
    /// `download`, `stop`, `like`, `buffering`.
    case eventTypeUnknown
    /// Valid: `PLAY`, `Complete`.
    case eventTypeUpperCase
    /// Valid: ` Play ` (trimmed, lower-cased).
    case eventTypePadded
    // timestamp
    case timestampNull, timestampAbsent, timestampEmpty
    /// `malformed-date`.
    case timestampMalformed
    /// `2024-03-05`.
    case timestampDateOnly
    /// `2024-02-30T…`, `2023-02-29T…`, month 13, April 31, hour 25, minute 61.
    case timestampImpossibleDate
    /// A JSON number (epoch seconds or milliseconds).
    case timestampNumeric
    /// `2024/03/05 10:00:00`, `05/03/2024 10:00:00`, no seconds, ISO basic format.
    case timestampOtherFormat
    /// Before 2000-01-01T00:00:00Z.
    case timestampTooEarly
    /// `2000-01-01T01:30:00+02:00`: year 2000 locally, 1999 in UTC.
    case timestampTooEarlyByOffset
    /// About 75 years after the event (2098–2099).
    case timestampInFuture
    /// Valid: `2024-03-05 10:00:00`.
    case timestampSpaceSeparator
    /// Valid: trailing `Z`.
    case timestampZulu
    /// Valid: local time with `±HH:MM` (+02:00, -05:00, +05:30, …), same UTC instant.
    case timestampOffset
    /// Valid: fractional seconds (truncated).
    case timestampFraction
    /// Valid: fraction and `Z` or an offset.
    case timestampFractionWithZone
    // duration
    case durationNullOnPlayOrComplete, durationAbsentOnPlayOrComplete
    case durationZero, durationNegative
    /// `123.5`.
    case durationFractional
    /// `"abc"`, `"N/A"`, `""`.
    case durationNonNumeric
    /// pause/seek with `30`, `"30"` or `0`.
    case durationOnPauseOrSeek
    /// Valid: `"3418"`.
    case durationDigitString
    /// Valid: `3418.0`.
    case durationIntegralFloat
    /// Valid: pause/seek without the key.
    case durationAbsentOnPauseOrSeek
    // layout (valid)
    case extraKeys, compactFormatting, reorderedKeys, surroundingWhitespace
    // whole line
    case malformedTruncated, malformedGarbage, malformedInvalidUTF8, malformedConcatenated
    case notObjectNumber, notObjectArray, notObjectNull, notObjectString, notObjectBoolean
    /// `{}`: all four required keys missing.
    case emptyObject
    /// Two or more field faults on one line (each also counted under its own kind).
    case multipleFaults
    // file level and stream level
    /// Whitespace-only line (not a row).
    case blankLine
    /// UTF-8 BOM at the start of a file (counted per file).
    case byteOrderMark
    /// CRLF line ends (counted per file).
    case crlfLineEnds
    /// The last line has no line end (counted per file).
    case missingFinalNewline
    /// An event delivered in a file after the one covering its time window.
    case lateArrival
    /// A line naming a user that is not in the reference data.
    case unknownUser
    /// A line naming an episode that is not in the reference data.
    case unknownEpisode

    /// True when a line with only this fault is still a valid row.
    public var keepsRowValid: Bool {
        switch self {
        case .userIdInteger, .userIdDigitString, .userIdPadded, .userIdEscaped,
            .episodeIdInteger, .episodeIdDigitString, .episodeIdPadded, .episodeIdEscaped,
            .eventTypeUpperCase, .eventTypePadded, .timestampSpaceSeparator, .timestampZulu,
            .timestampOffset, .timestampFraction, .timestampFractionWithZone,
            .durationDigitString, .durationIntegralFloat, .durationAbsentOnPauseOrSeek,
            .extraKeys, .compactFormatting, .reorderedKeys, .surroundingWhitespace,
            .blankLine, .byteOrderMark, .crlfLineEnds, .missingFinalNewline, .lateArrival,
            .unknownUser, .unknownEpisode:
            return true
        default:
            return false
        }
    }

    /// Kinds the per-line fault picker chooses from (the rest are counted, not picked).
    static let lineKinds: [SampleFaultKind] = allCases.filter {
        switch $0 {
        case .multipleFaults, .blankLine, .byteOrderMark, .crlfLineEnds, .missingFinalNewline,
            .lateArrival, .unknownUser, .unknownEpisode:
            return false
        default:
            return true
        }
    }

    /// The seed sample's kinds (`faults: .seed`) with their weights: how many of its 5,000
    /// lines carry each (17 of its dirty lines carry two; a generated line carries one).
    static let seedKinds: [(kind: SampleFaultKind, weight: Double)] = [
        (.userIdNull, 59), (.episodeIdNull, 45), (.durationNullOnPlayOrComplete, 15),
        (.eventTypeNull, 13), (.eventTypeEmpty, 12), (.timestampNull, 10),
        (.timestampEmpty, 9), (.timestampMalformed, 9),
    ]

    /// The kinds the per-line fault picker chooses from, with their weights.
    static func picks(_ faults: SampleFaults) -> (kinds: [SampleFaultKind], weights: [Double]) {
        switch faults {
        case .all: (lineKinds, lineKinds.map(\.weight))
        case .seed: (seedKinds.map(\.kind), seedKinds.map(\.weight))
        }
    }

    /// Which part of a line a kind changes; a line's second fault comes from another group.
    var group: FaultGroup {
        switch self {
        case .userIdNull, .userIdAbsent, .userIdEmpty, .userIdWhitespace, .userIdBoolean,
            .userIdArray, .userIdObject, .userIdFractional, .userIdInteger, .userIdDigitString,
            .userIdPadded, .userIdEscaped:
            return .user
        case .episodeIdNull, .episodeIdAbsent, .episodeIdEmpty, .episodeIdWhitespace,
            .episodeIdBoolean, .episodeIdArray, .episodeIdObject, .episodeIdFractional,
            .episodeIdInteger, .episodeIdDigitString, .episodeIdPadded, .episodeIdEscaped:
            return .episode
        case .eventTypeNull, .eventTypeAbsent, .eventTypeEmpty, .eventTypeUnknown,
            .eventTypeUpperCase, .eventTypePadded:
            return .eventType
        case .timestampNull, .timestampAbsent, .timestampEmpty, .timestampMalformed,
            .timestampDateOnly, .timestampImpossibleDate, .timestampNumeric,
            .timestampOtherFormat, .timestampTooEarly, .timestampTooEarlyByOffset,
            .timestampInFuture, .timestampSpaceSeparator, .timestampZulu, .timestampOffset,
            .timestampFraction, .timestampFractionWithZone:
            return .timestamp
        case .durationNullOnPlayOrComplete, .durationAbsentOnPlayOrComplete, .durationZero,
            .durationNegative, .durationFractional, .durationNonNumeric, .durationOnPauseOrSeek,
            .durationDigitString, .durationIntegralFloat, .durationAbsentOnPauseOrSeek:
            return .duration
        case .extraKeys, .compactFormatting, .reorderedKeys:
            return .layout
        case .surroundingWhitespace:
            return .surround
        default:
            return .wholeLine
        }
    }

    /// Relative frequency among dirty lines. The seed sample's kinds (null ids, null or
    /// empty event types, empty or `malformed-date` timestamps, null durations) dominate.
    var weight: Double {
        switch self {
        case .userIdNull, .episodeIdNull: 8
        case .eventTypeNull, .eventTypeEmpty: 4
        case .timestampEmpty, .timestampMalformed, .timestampNull: 3
        case .durationNullOnPlayOrComplete: 4
        case .timestampZulu, .timestampOffset, .timestampFraction, .eventTypeUpperCase: 3
        case .userIdInteger, .durationDigitString, .extraKeys, .surroundingWhitespace: 2
        case .malformedTruncated, .malformedGarbage, .eventTypeUnknown: 2
        default: 1
        }
    }
}

enum FaultGroup: UInt8 {
    case user, episode, eventType, timestamp, duration, layout, surround, wholeLine
}
