/// What to generate: sizes, seed, time range and how dirty. Same spec, same bytes.
///
/// Decoding accepts partial JSON: every absent field takes its default, so
/// `{"seed": 7, "events": 100000}` is a complete spec.
public struct SampleDataSpec: Sendable, Codable, Equatable {
    /// Seed of every pseudo-random stream.
    public var seed: UInt64
    /// Physical, non-blank event lines over all event files, dirty ones and duplicates
    /// included (= expected bronze event rows). Blank lines come on top.
    public var events: Int
    /// Users in the reference data (`user_1` … `user_N`). A few more user ids appear in
    /// events only (unknown members).
    public var users: Int
    /// Episodes in the reference data (`ep_1` … `ep_N`). A few more episode ids appear in
    /// events only.
    public var episodes: Int
    /// Number of event files; each covers the next consecutive time window.
    public var eventFiles: Int
    /// How many of the event files are gzip-compressed (`.ndjson.gz`), spread evenly.
    /// Does not change the uncompressed content.
    public var gzipFiles: Int
    /// Fraction of event lines carrying a fault (invalid ones and valid-but-unusual
    /// spellings alike); see ``SampleFaultKind``.
    public var dirtyRate: Double
    /// Fraction of event lines that re-deliver an earlier valid event (same natural key).
    public var duplicateRate: Double
    /// First UTC day of the event time range, `YYYY-MM-DD`. The whole range must lie in
    /// the past of whoever ingests the data, or valid events would be `timestamp_in_future`.
    public var startDay: String
    /// Length of the event time range in days. Event files cover consecutive windows of
    /// it; the last events may run a few hours past its end (sessions in progress).
    public var days: Int
    /// Episodes in two files (`episodes-1.csv`, `episodes-2.csv`); the second, processed
    /// mid-way through the event files, has another column order, corrects titles and adds
    /// the remaining episodes. Otherwise one `episodes.csv`.
    public var splitEpisodes: Bool
    /// Keep every row's expected codes, the valid de-duplicated events and the final
    /// reference data in the manifest (test oracles; small sizes only).
    public var recordEvents: Bool
    /// Also write files that exercise the ledger rather than the rules: a byte copy of an
    /// event file under another name, an empty file, a truncated gzip, a binary file, an
    /// HTML error page, and names that must be ignored (dotfile, `.tmp`, `.part`, `.swp`,
    /// `~`, unknown extension, a directory). Their expected states are in
    /// ``SampleDataManifest/fileStates``; they add no event rows.
    public var ledgerEdgeCases: Bool
    /// zlib level for the gzip files (1 fastest … 9 smallest).
    public var gzipLevel: Int
    /// How the lines of an event file are ordered: by time, each file covering the next
    /// window of the range (the default), or at random, each file spanning the whole range
    /// (like the seed sample: late syncs, merged queues).
    public var order: SampleEventOrder
    /// Line ends of the event files: every third file CRLF (the default), or all LF, or
    /// all CRLF (like the seed sample).
    public var lineEnds: SampleLineEnds
    /// Which kinds of dirt the event lines carry: every kind of ``SampleFaultKind`` (the
    /// default), or only the seed sample's, every line a JSON object (see ``SampleFaults``).
    public var faults: SampleFaults

    /// A spec with defaults: 20,000 event lines, 200 users, 60 episodes, 6 event files of
    /// which 2 gzipped, 3 % dirty, 1 % duplicates, 120 days from 2024-01-01.
    public init(
        seed: UInt64 = 42,
        events: Int = 20_000,
        users: Int = 200,
        episodes: Int = 60,
        eventFiles: Int = 6,
        gzipFiles: Int = 2,
        dirtyRate: Double = 0.03,
        duplicateRate: Double = 0.01,
        startDay: String = "2024-01-01",
        days: Int = 120,
        splitEpisodes: Bool = true,
        recordEvents: Bool = false,
        ledgerEdgeCases: Bool = false,
        gzipLevel: Int = 6,
        order: SampleEventOrder = .time,
        lineEnds: SampleLineEnds = .mixed,
        faults: SampleFaults = .all
    ) {
        self.seed = seed
        self.events = events
        self.users = users
        self.episodes = episodes
        self.eventFiles = eventFiles
        self.gzipFiles = gzipFiles
        self.dirtyRate = dirtyRate
        self.duplicateRate = duplicateRate
        self.startDay = startDay
        self.days = days
        self.splitEpisodes = splitEpisodes
        self.recordEvents = recordEvents
        self.ledgerEdgeCases = ledgerEdgeCases
        self.gzipLevel = gzipLevel
        self.order = order
        self.lineEnds = lineEnds
        self.faults = faults
    }

    /// A small data set shaped like the seed example (5,000 lines, 100 users, 50 episodes,
    /// four months), in 4 files (1 gzipped), with the oracle recorded.
    public static let demo = SampleDataSpec(
        seed: 2024, events: 5_000, users: 100, episodes: 50, eventFiles: 4, gzipFiles: 1,
        days: 121, recordEvents: true)

    /// A benchmark-sized spec: `events` lines over a year, about one user per 50 lines and
    /// one episode per 2,000 lines (at least 100 of each), files of about 100,000 lines
    /// (at most 100 files), a quarter of them gzipped (level 1), nothing recorded.
    public static func benchmark(events: Int, seed: UInt64 = 1) -> SampleDataSpec {
        let files = min(100, max(1, events / 100_000))
        return SampleDataSpec(
            seed: seed, events: events, users: max(100, events / 50),
            episodes: max(100, events / 2_000), eventFiles: files, gzipFiles: files / 4,
            startDay: "2023-01-01", days: 365, recordEvents: false, gzipLevel: 1)
    }

    /// Checks every field; throws ``SampleDataError/invalidSpec(field:reason:)``.
    public func validate() throws(SampleDataError) {
        func fail(_ field: String, _ reason: String) -> SampleDataError {
            .invalidSpec(field: field, reason: reason)
        }
        if events < 1 { throw fail("events", "must be at least 1") }
        if users < 1 { throw fail("users", "must be at least 1") }
        if episodes < 1 { throw fail("episodes", "must be at least 1") }
        if eventFiles < 1 || eventFiles > 9_999 {
            throw fail("eventFiles", "must be in 1...9999")
        }
        if eventFiles > events { throw fail("eventFiles", "more files than event lines") }
        if gzipFiles < 0 || gzipFiles > eventFiles {
            throw fail("gzipFiles", "must be in 0...eventFiles")
        }
        if !(dirtyRate >= 0 && dirtyRate <= 0.5) { throw fail("dirtyRate", "must be in 0...0.5") }
        if !(duplicateRate >= 0 && duplicateRate <= 0.3) {
            throw fail("duplicateRate", "must be in 0...0.3")
        }
        if days < 1 || days > 36_500 { throw fail("days", "must be in 1...36500") }
        guard let first = CivilTime.parseDay(startDay) else {
            throw fail("startDay", "not a real YYYY-MM-DD date: \(startDay)")
        }
        let year2000 = CivilTime.daysFromCivil(year: 2000, month: 1, day: 2)
        let year2090 = CivilTime.daysFromCivil(year: 2090, month: 1, day: 1)
        if first < year2000 { throw fail("startDay", "must be after 2000-01-01") }
        if first + days > year2090 { throw fail("days", "range must end before 2090") }
        if !(1...9).contains(gzipLevel) { throw fail("gzipLevel", "must be in 1...9") }
    }

    private enum CodingKeys: String, CodingKey {
        case seed, events, users, episodes, eventFiles, gzipFiles, dirtyRate, duplicateRate
        case startDay, days, splitEpisodes, recordEvents, ledgerEdgeCases, gzipLevel
        case order, lineEnds, faults
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SampleDataSpec()
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        events = try c.decodeIfPresent(Int.self, forKey: .events) ?? d.events
        users = try c.decodeIfPresent(Int.self, forKey: .users) ?? d.users
        episodes = try c.decodeIfPresent(Int.self, forKey: .episodes) ?? d.episodes
        eventFiles = try c.decodeIfPresent(Int.self, forKey: .eventFiles) ?? d.eventFiles
        gzipFiles = try c.decodeIfPresent(Int.self, forKey: .gzipFiles) ?? d.gzipFiles
        dirtyRate = try c.decodeIfPresent(Double.self, forKey: .dirtyRate) ?? d.dirtyRate
        duplicateRate =
            try c.decodeIfPresent(Double.self, forKey: .duplicateRate) ?? d.duplicateRate
        startDay = try c.decodeIfPresent(String.self, forKey: .startDay) ?? d.startDay
        days = try c.decodeIfPresent(Int.self, forKey: .days) ?? d.days
        splitEpisodes =
            try c.decodeIfPresent(Bool.self, forKey: .splitEpisodes) ?? d.splitEpisodes
        recordEvents = try c.decodeIfPresent(Bool.self, forKey: .recordEvents) ?? d.recordEvents
        ledgerEdgeCases =
            try c.decodeIfPresent(Bool.self, forKey: .ledgerEdgeCases) ?? d.ledgerEdgeCases
        gzipLevel = try c.decodeIfPresent(Int.self, forKey: .gzipLevel) ?? d.gzipLevel
        order = try c.decodeIfPresent(SampleEventOrder.self, forKey: .order) ?? d.order
        lineEnds = try c.decodeIfPresent(SampleLineEnds.self, forKey: .lineEnds) ?? d.lineEnds
        faults = try c.decodeIfPresent(SampleFaults.self, forKey: .faults) ?? d.faults
    }

    /// Encodes every field; `order`, `lineEnds` and `faults` only when not the default, so
    /// that the manifest of a default spec keeps the bytes it had before they existed.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seed, forKey: .seed)
        try c.encode(events, forKey: .events)
        try c.encode(users, forKey: .users)
        try c.encode(episodes, forKey: .episodes)
        try c.encode(eventFiles, forKey: .eventFiles)
        try c.encode(gzipFiles, forKey: .gzipFiles)
        try c.encode(dirtyRate, forKey: .dirtyRate)
        try c.encode(duplicateRate, forKey: .duplicateRate)
        try c.encode(startDay, forKey: .startDay)
        try c.encode(days, forKey: .days)
        try c.encode(splitEpisodes, forKey: .splitEpisodes)
        try c.encode(recordEvents, forKey: .recordEvents)
        try c.encode(ledgerEdgeCases, forKey: .ledgerEdgeCases)
        try c.encode(gzipLevel, forKey: .gzipLevel)
        if order != .time { try c.encode(order, forKey: .order) }
        if lineEnds != .mixed { try c.encode(lineEnds, forKey: .lineEnds) }
        if faults != .all { try c.encode(faults, forKey: .faults) }
    }
}

/// How the lines of each event file are ordered (``SampleDataSpec/order``).
public enum SampleEventOrder: String, Sendable, Codable, CaseIterable {
    /// Time order; file *i* covers the *i*-th consecutive window of the range.
    case time
    /// Random order; every file spans the whole range (each fresh event of the stream is
    /// dealt to a file at random, then each file's share is shuffled).
    case random
}

/// Line ends of the event files (``SampleDataSpec/lineEnds``).
public enum SampleLineEnds: String, Sendable, Codable, CaseIterable {
    /// Every third file (the 2nd, 5th, …) CRLF, the others LF.
    case mixed
    case lf
    case crlf
}

/// Which kinds of dirt the event files carry (``SampleDataSpec/faults``).
public enum SampleFaults: String, Sendable, Codable, CaseIterable {
    /// Every kind of ``SampleFaultKind``: field faults, lines that are not JSON or not an
    /// object, two faults on one line, blank lines, a byte-order mark, a missing final
    /// newline.
    case all
    /// Only the seed sample's kinds, weighted by its counts: null `user_id` or `episode_id`,
    /// null or empty `event_type`, null, empty or `"malformed-date"` `timestamp`, null
    /// `duration` on play/complete; one per dirty line. Every line is a JSON object with the
    /// five keys: no blank lines, no byte-order mark, a final newline. Unknown users and
    /// episodes, late arrivals and duplicates stay (valid rows).
    case seed

    /// Whether the files also carry what is not a field's fault: blank lines, two faults on
    /// one line, a byte-order mark, a missing final newline (the writer of the lines and
    /// the writer of the files both ask here).
    var layoutFaults: Bool { self == .all }
}
