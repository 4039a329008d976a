/// Reference answers to the analysis questions of SPEC §5, computed naively from a
/// manifest generated with `recordEvents` (silver events and final reference data).
/// Integration tests compare gold against these.
public struct SampleDataOracle: Sendable {
    /// One row of the top completed episodes report.
    public struct TopEpisode: Sendable, Equatable, Codable {
        /// 1 ... limit, in order.
        public var rank: Int
        public var episodeId: String
        /// Empty when the episode is not in the reference data.
        public var title: String
        /// Empty when the episode is not in the reference data.
        public var podcastId: String
        /// Complete events in the window.
        public var completions: Int

        /// Memberwise initialiser.
        public init(rank: Int, episodeId: String, title: String, podcastId: String, completions: Int) {
            self.rank = rank
            self.episodeId = episodeId
            self.title = title
            self.podcastId = podcastId
            self.completions = completions
        }
    }

    /// One row of the listen-through report.
    public struct CountryRate: Sendable, Equatable, Codable {
        /// The user's country.
        public var country: String
        /// Mean of `duration / duration_seconds` over the country's qualifying completes.
        public var averageListenThroughRate: Double
        /// Qualifying complete events.
        public var completions: Int

        /// Memberwise initialiser.
        public init(country: String, averageListenThroughRate: Double, completions: Int) {
            self.country = country
            self.averageListenThroughRate = averageListenThroughRate
            self.completions = completions
        }
    }

    /// Users with at least three distinct episodes (play or complete) on one UTC day.
    public struct MultiEpisodeListeners: Sendable, Equatable, Codable {
        /// Distinct users over all days.
        public var users: Int
        /// Per day (`YYYY-MM-DD`, ascending) with at least one such user.
        public var byDay: [DayCount]

        /// Memberwise initialiser.
        public init(users: Int, byDay: [DayCount]) {
            self.users = users
            self.byDay = byDay
        }
    }

    /// Qualifying users on one UTC day.
    public struct DayCount: Sendable, Equatable, Codable {
        /// `YYYY-MM-DD`.
        public var day: String
        public var users: Int

        /// Memberwise initialiser.
        public init(day: String, users: Int) {
            self.day = day
            self.users = users
        }
    }

    /// Silver events in load order.
    public let events: [GeneratedEvent]
    /// Final users.
    public let users: [GeneratedUser]
    /// Final episodes.
    public let episodes: [GeneratedEpisode]

    /// Nil when the manifest was generated without `recordEvents`.
    public init?(_ manifest: SampleDataManifest) {
        guard let events = manifest.events, let users = manifest.users,
            let episodes = manifest.episodes
        else { return nil }
        self.events = events
        self.users = users
        self.episodes = episodes
    }

    private static func day(_ epoch: Int64) -> Int {
        Int(CivilTime.floorDiv(epoch, CivilTime.secondsPerDay))
    }

    /// Question 1: the 7 UTC days ending on `asOf` (`YYYY-MM-DD`; default the day of the
    /// latest silver event), top `limit` episodes by complete events; ties by episode id
    /// ascending in byte order.
    public func topCompletedEpisodes(asOf: String? = nil, limit: Int = 10) -> [TopEpisode] {
        let lastDay: Int
        if let asOf, let parsed = CivilTime.parseDay(asOf) {
            lastDay = parsed
        } else if let latest = events.map(\.timestamp).max() {
            lastDay = SampleDataOracle.day(latest)
        } else {
            return []
        }
        var counts: [String: Int] = [:]
        for event in events where event.eventType == "complete" {
            let d = SampleDataOracle.day(event.timestamp)
            if d <= lastDay && d > lastDay - 7 { counts[event.episodeId, default: 0] += 1 }
        }
        let byId = Dictionary(episodes.map { ($0.episodeId, $0) }, uniquingKeysWith: { $1 })
        let ordered = counts.sorted {
            $0.value != $1.value
                ? $0.value > $1.value : Array($0.key.utf8).lexicographicallyPrecedes($1.key.utf8)
        }
        return ordered.prefix(limit).enumerated().map { index, entry in
            let episode = byId[entry.key]
            return TopEpisode(
                rank: index + 1, episodeId: entry.key, title: episode?.title ?? "",
                podcastId: episode?.podcastId ?? "", completions: entry.value)
        }
    }

    /// Question 2: per country of known users, over complete events of known users and
    /// known episodes with a positive duration_seconds. Sorted by country.
    public func listenThroughByCountry() -> [CountryRate] {
        let countryOf = Dictionary(users.map { ($0.userId, $0.country) }, uniquingKeysWith: { $1 })
        let lengthOf = Dictionary(
            episodes.map { ($0.episodeId, $0.durationSeconds) }, uniquingKeysWith: { $1 })
        var sums: [String: (Double, Int)] = [:]
        for event in events where event.eventType == "complete" {
            guard let country = countryOf[event.userId], let length = lengthOf[event.episodeId],
                length > 0, let duration = event.duration
            else { continue }
            let previous = sums[country] ?? (0, 0)
            sums[country] = (previous.0 + Double(duration) / Double(length), previous.1 + 1)
        }
        return sums.keys.sorted().compactMap { country in
            guard let (sum, n) = sums[country] else { return nil }
            return CountryRate(
                country: country, averageListenThroughRate: sum / Double(n), completions: n)
        }
    }

    /// Question 3: users who, on at least one UTC day, played or completed three or more
    /// distinct episodes; and the per-day breakdown.
    public func multiEpisodeListeners(threshold: Int = 3) -> MultiEpisodeListeners {
        var perUserDay: [String: [Int: Set<String>]] = [:]
        for event in events where event.eventType == "play" || event.eventType == "complete" {
            perUserDay[event.userId, default: [:]][
                SampleDataOracle.day(event.timestamp),
                default: []
            ].insert(event.episodeId)
        }
        var qualifying = Set<String>()
        var perDay: [Int: Int] = [:]
        for (user, days) in perUserDay {
            for (day, episodes) in days where episodes.count >= threshold {
                qualifying.insert(user)
                perDay[day, default: 0] += 1
            }
        }
        return MultiEpisodeListeners(
            users: qualifying.count,
            byDay: perDay.keys.sorted().map {
                DayCount(day: CivilTime.formatDay($0), users: perDay[$0] ?? 0)
            })
    }
}
