/// What the generator wrote and what a correct pipeline must make of it (the oracle).
///
/// Counting conventions: an event "row" is a physical, non-blank line of an event file
/// (bronze); blank lines are counted apart. Line numbers are 1-based physical line numbers
/// of the decompressed text, blank lines included (a CSV header is line 1).
/// Invariant: `expectedSilverEvents + expectedRejectedEvents + expectedDuplicateEvents ==
/// eventLines`, in total and per file.
public struct SampleDataManifest: Sendable, Codable, Equatable {
    /// The spec this was generated from.
    public var spec: SampleDataSpec
    /// Files to ingest, in the intended processing order (which is also modification-time
    /// order, oldest first). Ignored names (ledger edge cases) are not listed here.
    public var files: [String]
    /// Names written that an ingester must ignore (only with `ledgerEdgeCases`).
    public var ignoredFiles: [String]
    /// Expected ledger state per file name: `loaded`, `duplicate`, `rejected` or `ignored`.
    public var fileStates: [String: String]
    /// Per file details, in processing order.
    public var fileDetails: [SampleFileDetail]
    /// Physical non-blank lines in the event files = expected bronze event rows.
    public var eventLines: Int
    /// Whitespace-only lines in the event files (not rows).
    public var blankLines: Int
    /// Valid, first-seen events (silver rows).
    public var expectedSilverEvents: Int
    /// Rows with at least one error code.
    public var expectedRejectedEvents: Int
    /// Valid rows whose natural key was already loaded.
    public var expectedDuplicateEvents: Int
    /// Rows per error code name (a row with several codes counts for each). Every code of
    /// SPEC §4.1 is present, zero if absent.
    public var expectedCodeCounts: [String: Int]
    /// Rejected reference CSV rows per code name.
    public var expectedReferenceRejects: [String: Int]
    /// Every rejected reference row, in processing order.
    public var referenceRejects: [SampleReferenceReject]
    /// Users in the final (latest-wins) reference state.
    public var expectedUsers: Int
    /// Episodes in the final (latest-wins) reference state.
    public var expectedEpisodes: Int
    /// Silver events whose user id is not in the final reference data.
    public var expectedEventsWithUnknownUser: Int
    /// Silver events whose episode id is not in the final reference data.
    public var expectedEventsWithUnknownEpisode: Int
    /// Earliest UTC epoch second among silver events (nil when there are none).
    public var firstEventTimestamp: Int64?
    /// Latest UTC epoch second among silver events (nil when there are none).
    public var lastEventTimestamp: Int64?
    /// Lines per ``SampleFaultKind`` raw value (a line may carry several kinds).
    public var faultCounts: [String: Int]
    /// Duplicate lines per ``SampleDuplicateKind`` raw value (each duplicate counts once
    /// for its form and once for `sameFile`/`laterFile`).
    public var duplicateCounts: [String: Int]
    /// Final users, in id number order (only with `recordEvents`).
    public var users: [GeneratedUser]?
    /// Final episodes, in id number order (only with `recordEvents`).
    public var episodes: [GeneratedEpisode]?
    /// Silver events in load order (only with `recordEvents`).
    public var events: [GeneratedEvent]?
    /// Every event row with its expected codes, in load order (only with `recordEvents`).
    public var rows: [GeneratedRow]?

    /// Memberwise initialiser.
    public init(
        spec: SampleDataSpec, files: [String], ignoredFiles: [String],
        fileStates: [String: String], fileDetails: [SampleFileDetail], eventLines: Int,
        blankLines: Int, expectedSilverEvents: Int, expectedRejectedEvents: Int,
        expectedDuplicateEvents: Int, expectedCodeCounts: [String: Int],
        expectedReferenceRejects: [String: Int], referenceRejects: [SampleReferenceReject],
        expectedUsers: Int, expectedEpisodes: Int, expectedEventsWithUnknownUser: Int,
        expectedEventsWithUnknownEpisode: Int, firstEventTimestamp: Int64?,
        lastEventTimestamp: Int64?, faultCounts: [String: Int], duplicateCounts: [String: Int],
        users: [GeneratedUser]?, episodes: [GeneratedEpisode]?, events: [GeneratedEvent]?,
        rows: [GeneratedRow]?
    ) {
        self.spec = spec
        self.files = files
        self.ignoredFiles = ignoredFiles
        self.fileStates = fileStates
        self.fileDetails = fileDetails
        self.eventLines = eventLines
        self.blankLines = blankLines
        self.expectedSilverEvents = expectedSilverEvents
        self.expectedRejectedEvents = expectedRejectedEvents
        self.expectedDuplicateEvents = expectedDuplicateEvents
        self.expectedCodeCounts = expectedCodeCounts
        self.expectedReferenceRejects = expectedReferenceRejects
        self.referenceRejects = referenceRejects
        self.expectedUsers = expectedUsers
        self.expectedEpisodes = expectedEpisodes
        self.expectedEventsWithUnknownUser = expectedEventsWithUnknownUser
        self.expectedEventsWithUnknownEpisode = expectedEventsWithUnknownEpisode
        self.firstEventTimestamp = firstEventTimestamp
        self.lastEventTimestamp = lastEventTimestamp
        self.faultCounts = faultCounts
        self.duplicateCounts = duplicateCounts
        self.users = users
        self.episodes = episodes
        self.events = events
        self.rows = rows
    }

    /// `YYYY-MM-DD` of ``lastEventTimestamp`` (the default as-of day of the top-episodes
    /// report).
    public var lastEventDay: String? {
        lastEventTimestamp.map {
            CivilTime.formatDay(Int(CivilTime.floorDiv($0, CivilTime.secondsPerDay)))
        }
    }

    /// The detail of one file by name.
    public func detail(for name: String) -> SampleFileDetail? {
        fileDetails.first { $0.name == name }
    }
}

/// One written file and what ingesting it must yield.
public struct SampleFileDetail: Sendable, Codable, Equatable {
    /// `events`, `users`, `episodes`, or `other` (ledger edge cases).
    public var kind: String
    /// File name inside the folder.
    public var name: String
    /// Modification time set on the file (epoch seconds).
    public var modificationTime: Int64
    /// Gzip-compressed (`.gz`).
    public var gzip: Bool
    /// CRLF line ends.
    public var crlf: Bool
    /// Starts with a UTF-8 byte order mark.
    public var bom: Bool
    /// The last line ends with a line end.
    public var finalNewline: Bool
    /// Expected ledger state (`loaded`, `duplicate`, `rejected`).
    public var expectedState: String
    /// Event files: non-blank lines. CSV files: data rows (header excluded).
    public var rows: Int
    /// Whitespace-only lines (not rows).
    public var blankLines: Int
    /// Event files: silver rows. CSV files: valid rows (upserted).
    public var loaded: Int
    /// Rows with at least one error code.
    public var rejected: Int
    /// Valid rows dropped as duplicates of an already loaded natural key.
    public var duplicates: Int
    /// Line number of the first rejected row, if any.
    public var firstRejectedLine: Int?
    /// Rejected rows per code name (events: every code of a row counts).
    public var codeCounts: [String: Int]

    /// Memberwise initialiser.
    public init(
        kind: String, name: String, modificationTime: Int64, gzip: Bool, crlf: Bool,
        bom: Bool, finalNewline: Bool, expectedState: String, rows: Int, blankLines: Int,
        loaded: Int, rejected: Int, duplicates: Int, firstRejectedLine: Int?,
        codeCounts: [String: Int]
    ) {
        self.kind = kind
        self.name = name
        self.modificationTime = modificationTime
        self.gzip = gzip
        self.crlf = crlf
        self.bom = bom
        self.finalNewline = finalNewline
        self.expectedState = expectedState
        self.rows = rows
        self.blankLines = blankLines
        self.loaded = loaded
        self.rejected = rejected
        self.duplicates = duplicates
        self.firstRejectedLine = firstRejectedLine
        self.codeCounts = codeCounts
    }
}

/// A rejected reference CSV row.
public struct SampleReferenceReject: Sendable, Codable, Equatable {
    /// CSV file name.
    public var file: String
    /// Physical line (the header is line 1).
    public var line: Int
    /// `wrong_field_count`, `missing_episode_id`, `invalid_release_date`,
    /// `invalid_duration_seconds`, `missing_user_id`, `invalid_signup_date` or
    /// `missing_country`.
    public var code: String

    /// Memberwise initialiser.
    public init(file: String, line: Int, code: String) {
        self.file = file
        self.line = line
        self.code = code
    }
}

/// A user of the final reference state.
public struct GeneratedUser: Sendable, Codable, Equatable, Hashable {
    /// `user_<n>`.
    public var userId: String
    /// `YYYY-MM-DD`.
    public var signupDate: String
    /// ISO 3166 alpha-2 code.
    public var country: String

    /// Memberwise initialiser.
    public init(userId: String, signupDate: String, country: String) {
        self.userId = userId
        self.signupDate = signupDate
        self.country = country
    }
}

/// An episode of the final reference state.
public struct GeneratedEpisode: Sendable, Codable, Equatable, Hashable {
    /// `ep_<n>`.
    public var episodeId: String
    /// `podcast_<n>`.
    public var podcastId: String
    /// As loaded (commas, quotes and non-ASCII characters included).
    public var title: String
    /// `YYYY-MM-DD`.
    public var releaseDate: String
    /// Episode length, 600...7200.
    public var durationSeconds: Int

    /// Memberwise initialiser.
    public init(
        episodeId: String, podcastId: String, title: String, releaseDate: String,
        durationSeconds: Int
    ) {
        self.episodeId = episodeId
        self.podcastId = podcastId
        self.title = title
        self.releaseDate = releaseDate
        self.durationSeconds = durationSeconds
    }
}

/// A valid, first-seen event as silver must store it.
public struct GeneratedEvent: Sendable, Codable, Equatable, Hashable {
    /// Trimmed id (a JSON integer id is its decimal text).
    public var userId: String
    public var episodeId: String
    /// `play`, `pause`, `seek` or `complete`.
    public var eventType: String
    /// UTC epoch seconds (fraction truncated).
    public var timestamp: Int64
    /// Seconds, only for play and complete.
    public var duration: Int?
    /// Event file it was loaded from.
    public var file: String
    /// Physical line in that file.
    public var line: Int

    /// Memberwise initialiser.
    public init(
        userId: String, episodeId: String, eventType: String, timestamp: Int64,
        duration: Int?, file: String, line: Int
    ) {
        self.userId = userId
        self.episodeId = episodeId
        self.eventType = eventType
        self.timestamp = timestamp
        self.duration = duration
        self.file = file
        self.line = line
    }
}

/// One event row (non-blank line) and its expected outcome.
public struct GeneratedRow: Sendable, Codable, Equatable, Hashable {
    /// Event file name.
    public var file: String
    /// Physical line in that file.
    public var line: Int
    /// Expected error codes in SPEC §4.1 order; empty = valid.
    public var codes: [String]
    /// Valid but a re-delivery of an already loaded natural key.
    public var duplicate: Bool
    /// Fault kinds applied to the line (``SampleFaultKind`` raw values), or the duplicate
    /// kind for duplicates.
    public var faults: [String]

    /// Memberwise initialiser.
    public init(file: String, line: Int, codes: [String], duplicate: Bool, faults: [String]) {
        self.file = file
        self.line = line
        self.codes = codes
        self.duplicate = duplicate
        self.faults = faults
    }
}

/// The ways a duplicate is re-delivered.
public enum SampleDuplicateKind: String, Sendable, Codable, CaseIterable {
    /// Byte-identical line.
    case identicalLine
    /// Same natural key, another duration (play/complete).
    case differentDuration
    /// Same UTC instant spelled differently (`Z`, an offset, a fraction).
    case differentTimestampSpelling
    /// The original is in the same file.
    case sameFile
    /// The original is in an earlier file.
    case laterFile
}
