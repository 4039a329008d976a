// The reference CSV row rules of SPEC §4.1.2, over fields the CSV reader has already split.

/// One validation error code of a reference (episodes / users) CSV row. The raw value is the
/// stable code name stored in bronze.
public enum ReferenceErrorCode: String, CaseIterable, Sendable, Comparable {
    /// The row does not have as many fields as the header (set by the CSV reader; the rules
    /// below work on already split fields).
    case wrongFieldCount = "wrong_field_count"
    case missingEpisodeId = "missing_episode_id"
    case invalidReleaseDate = "invalid_release_date"
    case invalidDurationSeconds = "invalid_duration_seconds"
    case missingUserId = "missing_user_id"
    case invalidSignupDate = "invalid_signup_date"
    case missingCountry = "missing_country"
    /// The record is longer than `ingest.max_line_bytes` (set by the CSV reader; bronze keeps
    /// its first 4 KiB).
    case recordTooLong = "record_too_long"
    /// A quote opened and never closed within the bound or before the end of the file: the
    /// record is its first line, and the lines after it are read again (set by the reader).
    case unterminatedQuote = "unterminated_quote"

    /// Position in declaration order (the canonical order).
    var ordinal: Int {
        switch self {
        case .wrongFieldCount: 0
        case .missingEpisodeId: 1
        case .invalidReleaseDate: 2
        case .invalidDurationSeconds: 3
        case .missingUserId: 4
        case .invalidSignupDate: 5
        case .missingCountry: 6
        case .recordTooLong: 7
        case .unterminatedQuote: 8
        }
    }

    public static func < (lhs: ReferenceErrorCode, rhs: ReferenceErrorCode) -> Bool {
        lhs.ordinal < rhs.ordinal
    }
}

/// The codes a rejected reference row carries, in canonical (declaration) order, without
/// repeats.
public struct ReferenceErrors: Error, Sendable, Hashable {
    /// The codes, in canonical order.
    public let codes: [ReferenceErrorCode]

    /// Sorts into canonical order and drops repeats.
    public init(_ codes: [ReferenceErrorCode]) {
        self.codes = Array(Set(codes)).sorted()
    }

    /// Parses the stored text form back; unknown names are ignored.
    public init(text: String) {
        self.init(text.split(separator: ",").compactMap { ReferenceErrorCode(rawValue: String($0)) })
    }

    /// The row has the wrong number of fields.
    public static let wrongFieldCount = ReferenceErrors([.wrongFieldCount])

    /// The codes joined by commas, as stored in bronze (`missing_user_id,missing_country`).
    public var text: String { codes.map(\.rawValue).joined(separator: ",") }

    /// Whether a code is present.
    public func contains(_ code: ReferenceErrorCode) -> Bool { codes.contains(code) }
}

/// A valid episodes row, normalised.
public struct CleanEpisode: Sendable, Hashable {
    /// Trimmed, non-empty.
    public var episodeId: String
    /// Trimmed, may be empty.
    public var podcastId: String
    /// Exactly as given.
    public var title: String
    /// `YYYY-MM-DD`, a real date.
    public var releaseDate: String
    /// Positive.
    public var durationSeconds: Int64

    public init(
        episodeId: String, podcastId: String, title: String, releaseDate: String,
        durationSeconds: Int64
    ) {
        self.episodeId = episodeId
        self.podcastId = podcastId
        self.title = title
        self.releaseDate = releaseDate
        self.durationSeconds = durationSeconds
    }
}

/// A valid users row, normalised.
public struct CleanUser: Sendable, Hashable {
    /// Trimmed, non-empty.
    public var userId: String
    /// `YYYY-MM-DD`, a real date.
    public var signupDate: String
    /// Trimmed, non-empty, case kept as given.
    public var country: String

    public init(userId: String, signupDate: String, country: String) {
        self.userId = userId
        self.signupDate = signupDate
        self.country = country
    }
}

/// The reference row rules (SPEC §4.1.2).
///
/// Ids, dates, country and duration are trimmed of ASCII whitespace (space, tab, LF, VT, FF,
/// CR) before the rules apply; `podcast_id` is trimmed and may be empty; `title` is kept
/// exactly. Dates must be exactly `YYYY-MM-DD` and a real calendar date. `duration_seconds`
/// must be one or more ASCII digits (no sign, no fraction) with a positive value that fits
/// Int64. Country is kept as given (no case change).
public enum ReferenceRules {
    /// Validates the fields of one episodes row.
    public static func validateEpisode(
        episodeId: String, podcastId: String, title: String, releaseDate: String,
        durationSeconds: String
    ) -> Result<CleanEpisode, ReferenceErrors> {
        var codes: [ReferenceErrorCode] = []
        let id = trimmed(episodeId)
        if id.isEmpty { codes.append(.missingEpisodeId) }
        let date = trimmed(releaseDate)
        if Timestamps.parseDay(date) == nil { codes.append(.invalidReleaseDate) }
        let duration = positiveInteger(trimmed(durationSeconds))
        if duration == nil { codes.append(.invalidDurationSeconds) }
        guard codes.isEmpty, let duration else { return .failure(ReferenceErrors(codes)) }
        return .success(
            CleanEpisode(
                episodeId: id, podcastId: trimmed(podcastId), title: title, releaseDate: date,
                durationSeconds: duration))
    }

    /// Validates the fields of one users row.
    public static func validateUser(userId: String, signupDate: String, country: String)
        -> Result<CleanUser, ReferenceErrors>
    {
        var codes: [ReferenceErrorCode] = []
        let id = trimmed(userId)
        if id.isEmpty { codes.append(.missingUserId) }
        let date = trimmed(signupDate)
        if Timestamps.parseDay(date) == nil { codes.append(.invalidSignupDate) }
        let countryValue = trimmed(country)
        if countryValue.isEmpty { codes.append(.missingCountry) }
        guard codes.isEmpty else { return .failure(ReferenceErrors(codes)) }
        return .success(CleanUser(userId: id, signupDate: date, country: countryValue))
    }

    /// `s` without leading and trailing ASCII whitespace.
    public static func trimmed(_ s: String) -> String {
        let utf8 = s.utf8
        guard let first = utf8.firstIndex(where: { !Timestamps.isASCIIWhitespace($0) }),
            let last = utf8.lastIndex(where: { !Timestamps.isASCIIWhitespace($0) })
        else { return "" }
        if first == utf8.startIndex && last == utf8.index(before: utf8.endIndex) { return s }
        return String(Substring(utf8[first...last]))
    }

    /// One or more ASCII digits with a positive value that fits Int64; nil otherwise.
    static func positiveInteger(_ s: String) -> Int64? {
        var s = s
        let value = s.withUTF8 { buf in
            EventValidator.decimalDigitsValue(UnsafeRawBufferPointer(buf), 0, buf.count)
        }
        guard let value, value > 0 else { return nil }
        return value
    }
}
