/// Reference answers to `podpipectl report podcast-metrics`, computed naively in plain Swift
/// from the silver events and the final episodes of a manifest (``SampleDataOracle``):
/// every event walked one by one into sessions, every metric counted with sets and sums.
/// Integration tests compare the report against it row by row. The definitions are those of
/// doc/analysts.md, "Podcast metrics".
public struct PodcastMetricsOracle: Sendable {
    /// One row of the report.
    public struct Row: Sendable, Equatable {
        /// `YYYY-MM-DD` with `byDay`; nil over the window.
        public var day: String?
        /// Empty for an episode not in the reference data.
        public var podcastId: String
        /// nil when grouped by podcast.
        public var episodeId: String?
        /// nil when grouped by podcast; empty for an unknown episode.
        public var title: String?
        /// The metrics; all nil when the row has fewer listeners than the threshold.
        public var plays: Int?
        public var listeners: Int?
        public var engagedListeners: Int?
        public var qualifiedPlays: Int?
        public var timeListenedSeconds: Int?
        /// nil also when no episode of the row has a known duration.
        public var averageConsumption: Double?
    }

    /// A session: the events of one user × episode × UTC day between two boundaries.
    public struct Session: Sendable, Equatable {
        public var userId: String
        public var episodeId: String
        /// Days since 1970-01-01.
        public var day: Int
        public var plays: Int
        public var listenedSeconds: Int
    }

    /// Seconds of silence after which the next event opens a new session.
    public static let sessionGap: Int64 = 1_800
    /// Engaged: at least this many seconds in one session...
    public static let engagedSeconds = 1_200
    /// ... or at least this share of the episode's length, in percent.
    public static let engagedPercent = 40
    /// Qualified: at least this many seconds per user × episode × UTC day.
    public static let qualifiedSeconds = 60

    let events: [GeneratedEvent]
    let episodes: [String: GeneratedEpisode]

    /// The oracle over `events` (silver, any order) and `episodes` (final reference data).
    public init(events: [GeneratedEvent], episodes: [GeneratedEpisode]) {
        self.events = events
        var byId: [String: GeneratedEpisode] = [:]
        for episode in episodes { byId[episode.episodeId] = episode }
        self.episodes = byId
    }

    /// The oracle of a manifest generated with `recordEvents`.
    public init(_ oracle: SampleDataOracle) {
        self.init(events: oracle.events, episodes: oracle.episodes)
    }

    private static func day(_ epoch: Int64) -> Int {
        Int(CivilTime.floorDiv(epoch, CivilTime.secondsPerDay))
    }

    private static func typeRank(_ type: String) -> Int {
        switch type {
        case "play": 0
        case "seek": 1
        case "pause": 2
        default: 3
        }
    }

    /// Every session whose day lies in `days`, walking each user × episode × day's events in
    /// time order.
    public func sessions(in days: ClosedRange<Int>) -> [Session] {
        var groups: [String: [GeneratedEvent]] = [:]
        for event in events {
            let day = Self.day(event.timestamp)
            guard days.contains(day) else { continue }
            groups["\(event.userId)\u{0}\(event.episodeId)\u{0}\(day)", default: []].append(event)
        }
        var result: [Session] = []
        for (_, group) in groups {
            let sorted = group.sorted {
                ($0.timestamp, Self.typeRank($0.eventType)) < ($1.timestamp, Self.typeRank($1.eventType))
            }
            var current: Session?
            var playSeconds = 0
            var completeSeconds = 0
            var previousEnd: Int64 = 0
            var previousWasComplete = false
            func close() {
                if var session = current {
                    session.listenedSeconds = max(playSeconds, completeSeconds)
                    result.append(session)
                }
                current = nil
                playSeconds = 0
                completeSeconds = 0
            }
            for event in sorted {
                if current == nil || previousWasComplete || event.timestamp > previousEnd + Self.sessionGap {
                    close()
                    current = Session(
                        userId: event.userId, episodeId: event.episodeId, day: Self.day(event.timestamp),
                        plays: 0, listenedSeconds: 0)
                }
                previousEnd = event.timestamp
                switch event.eventType {
                case "play":
                    current?.plays += 1
                    playSeconds += event.duration ?? 0
                    previousEnd = event.timestamp + Int64(event.duration ?? 0)
                case "complete":
                    completeSeconds = max(completeSeconds, event.duration ?? 0)
                default: break
                }
                previousWasComplete = event.eventType == "complete"
            }
            close()
        }
        return result
    }

    /// The report for the `days` UTC days ending on `asOf` (default: the day of the latest
    /// event), per episode or per podcast, per day or over the window, in the report's order
    /// (day, podcast_id, then episode_id, in byte order).
    public func rows(
        asOf: String? = nil, days: Int = 7, byPodcast: Bool = false, byDay: Bool = false,
        minListeners: Int = 0
    ) -> [Row] {
        guard let last = lastDay(asOf: asOf) else { return [] }
        struct Key: Hashable {
            var day: Int?
            var member: String
        }
        var byKey: [Key: [Session]] = [:]
        for session in sessions(in: (last - days + 1)...last) {
            let podcast = episodes[session.episodeId]?.podcastId ?? ""
            let key = Key(day: byDay ? session.day : nil, member: byPodcast ? podcast : session.episodeId)
            byKey[key, default: []].append(session)
        }
        var rows: [Row] = []
        for (key, sessions) in byKey {
            var listeners = Set<String>()
            var engaged = Set<String>()
            var perTriple: [String: Int] = [:]
            var listenersPerEpisode: [String: Set<String>] = [:]
            var plays = 0
            var seconds = 0
            for session in sessions {
                plays += session.plays
                seconds += session.listenedSeconds
                perTriple["\(session.userId)\u{0}\(session.episodeId)\u{0}\(session.day)", default: 0] +=
                    session.listenedSeconds
                if session.listenedSeconds > 0 {
                    listeners.insert(session.userId)
                    listenersPerEpisode[session.episodeId, default: []].insert(session.userId)
                }
                let length = episodes[session.episodeId]?.durationSeconds ?? 0
                if session.listenedSeconds >= Self.engagedSeconds
                    || (length > 0 && session.listenedSeconds * 100 >= Self.engagedPercent * length)
                {
                    engaged.insert(session.userId)
                }
            }
            var capacity = 0
            var capacityKnown = false
            for (episode, users) in listenersPerEpisode {
                if let length = episodes[episode]?.durationSeconds {
                    capacity += users.count * length
                    capacityKnown = true
                }
            }
            let podcast = byPodcast ? key.member : (episodes[key.member]?.podcastId ?? "")
            var row = Row(
                day: key.day.map(CivilTime.formatDay), podcastId: podcast,
                episodeId: byPodcast ? nil : key.member,
                title: byPodcast ? nil : (episodes[key.member]?.title ?? ""))
            if listeners.count >= minListeners {
                row.plays = plays
                row.listeners = listeners.count
                row.engagedListeners = engaged.count
                row.qualifiedPlays = perTriple.values.filter { $0 >= Self.qualifiedSeconds }.count
                row.timeListenedSeconds = seconds
                row.averageConsumption =
                    capacityKnown && capacity > 0 ? Double(seconds) / Double(capacity) : nil
            }
            rows.append(row)
        }
        func bytes(_ text: String?) -> [UInt8] { Array((text ?? "").utf8) }
        return rows.sorted { a, b in
            if a.day != b.day { return (a.day ?? "") < (b.day ?? "") }
            if a.podcastId != b.podcastId {
                return bytes(a.podcastId).lexicographicallyPrecedes(bytes(b.podcastId))
            }
            return bytes(a.episodeId).lexicographicallyPrecedes(bytes(b.episodeId))
        }
    }

    /// The last day of the window: `asOf`, or the day of the latest event (nil: no events).
    func lastDay(asOf: String?) -> Int? {
        if let asOf, let parsed = CivilTime.parseDay(asOf) { return parsed }
        return events.map(\.timestamp).max().map(Self.day)
    }

    /// The window of `rows(asOf:days:…)`: its first and last day, `YYYY-MM-DD`.
    public func window(asOf: String? = nil, days: Int = 7) -> (start: String, end: String)? {
        guard let last = lastDay(asOf: asOf) else { return nil }
        return (CivilTime.formatDay(last - days + 1), CivilTime.formatDay(last))
    }
}
