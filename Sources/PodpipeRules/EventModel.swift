// The vocabulary of event validation: error codes, event types and the clean event that
// silver stores. Pure values, no I/O.

/// One validation error code of SPEC §4.1. The raw value is the stable code name that is
/// stored in bronze, shown by `podpipectl rejects` and documented in doc/data-model.md.
public enum EventErrorCode: String, CaseIterable, Sendable, Comparable {
    case malformedJSON = "malformed_json"
    case notAnObject = "not_an_object"
    case missingUserId = "missing_user_id"
    case emptyUserId = "empty_user_id"
    case invalidUserId = "invalid_user_id"
    case missingEpisodeId = "missing_episode_id"
    case emptyEpisodeId = "empty_episode_id"
    case invalidEpisodeId = "invalid_episode_id"
    case missingEventType = "missing_event_type"
    case invalidEventType = "invalid_event_type"
    case missingTimestamp = "missing_timestamp"
    case invalidTimestamp = "invalid_timestamp"
    case timestampTooEarly = "timestamp_too_early"
    case timestampInFuture = "timestamp_in_future"
    case invalidDurationForPlayComplete = "invalid_duration_for_play_complete"
    case nonNullDurationForOtherEvent = "non_null_duration_for_other_event"

    /// Bit position in `EventErrors` (declaration order).
    var bit: UInt32 {
        // CaseIterable order is declaration order; at most 32 codes.
        var index: UInt32 = 0
        for code in EventErrorCode.allCases {
            if code == self { return 1 << index }
            index += 1
        }
        return 0
    }

    public static func < (lhs: EventErrorCode, rhs: EventErrorCode) -> Bool {
        lhs.bit < rhs.bit
    }
}

/// The set of codes a row carries (empty = valid), as a bit set so that the hot path does
/// not allocate.
public struct EventErrors: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ code: EventErrorCode) { self.rawValue = code.bit }
    public init(_ codes: [EventErrorCode]) {
        var raw: UInt32 = 0
        for code in codes { raw |= code.bit }
        self.rawValue = raw
    }

    public mutating func insert(_ code: EventErrorCode) { self.insert(EventErrors(code)) }
    public func contains(_ code: EventErrorCode) -> Bool { self.contains(EventErrors(code)) }

    /// The codes in canonical (declaration) order.
    public var codes: [EventErrorCode] { EventErrorCode.allCases.filter { contains($0) } }

    /// The codes joined by commas, as stored in bronze (`missing_user_id,invalid_timestamp`).
    public var text: String { codes.map(\.rawValue).joined(separator: ",") }

    /// Parses the stored text form back; unknown names are ignored.
    public init(text: String) {
        var result = EventErrors()
        for name in text.split(separator: ",") {
            if let code = EventErrorCode(rawValue: String(name)) { result.insert(code) }
        }
        self = result
    }
}

/// The four event types podpipe accepts.
public enum EventType: UInt8, CaseIterable, Sendable {
    case play = 0
    case pause = 1
    case seek = 2
    case complete = 3

    public var name: String {
        switch self {
        case .play: "play"
        case .pause: "pause"
        case .seek: "seek"
        case .complete: "complete"
        }
    }

    /// Play and complete carry a duration; pause and seek must not.
    public var carriesDuration: Bool { self == .play || self == .complete }
}

/// A valid event, normalised: ids trimmed, type lower-cased, timestamp in UTC seconds since
/// the Unix epoch (fraction truncated), duration in seconds (only for play/complete).
public struct CleanEvent: Sendable, Hashable {
    // (The one-byte members last: 50 bytes, not 57, in every parsed line and silver run.)
    public var userId: String
    public var episodeId: String
    public var timestamp: Int64
    public var duration: Int64?
    public var eventType: EventType

    public init(
        userId: String, episodeId: String, eventType: EventType, timestamp: Int64,
        duration: Int64?
    ) {
        self.userId = userId
        self.episodeId = episodeId
        self.eventType = eventType
        self.timestamp = timestamp
        self.duration = duration
    }
}

/// What validating one physical line yields.
public enum LineOutcome: Sendable, Hashable {
    /// Only whitespace: skipped, not a row (SPEC §4.1).
    case blank
    case valid(CleanEvent)
    case invalid(EventErrors)
}
