// The users and episodes behind the events, and the reference CSV files that describe
// them (SPEC §2.2, §4.1.2), with a few bad rows whose codes are known.

/// A reference CSV file ready to be written.
struct ReferenceFile {
    var name: String
    var kind: String  // "users" or "episodes"
    var bytes: [UInt8]
    var crlf: Bool
    var rows: Int
    var loaded: Int
    var rejects: [(line: Int, code: String)]
}

/// Users and episodes, indexed by their id number (`user_<n>`, `ep_<n>`; index 0 unused).
/// Numbers above the known counts exist only in events (unknown members).
struct ReferenceData {
    let knownUsers: Int
    let unknownUsers: Int
    let knownEpisodes: Int
    let unknownEpisodes: Int

    /// Day number of sign-up (known users) or `Int.min`.
    var signupDay: [Int]
    var country: [String]
    var userAlias: AliasTable
    var heavyUser: [Bool]

    var episodeLength: [Int32]
    var releaseDay: [Int]
    var podcast: [Int]
    var title: [String]
    /// The next episode of the same podcast by release, or 0.
    var nextInPodcast: [Int32]
    var episodeAlias: AliasTable

    /// In processing order: users first, then episodes (the second episodes file, if any,
    /// is written mid-way through the event files by the generator).
    var files: [ReferenceFile] = []
    /// Final (latest wins) state.
    var finalUsers: [GeneratedUser] = []
    var finalEpisodes: [GeneratedEpisode] = []

    /// Listen-through bias per user (by country), so that the countries differ.
    var completionBias: [Double]

    /// Country, weight, listen-through bias.
    static let countries: [(String, Double, Double)] = [
        ("US", 28, 0.0), ("GB", 10, 0.01), ("DE", 9, 0.025), ("IN", 9, -0.04),
        ("BR", 8, -0.025), ("FR", 7, 0.0), ("MX", 5, -0.02), ("ES", 5, -0.01),
        ("CA", 5, 0.005), ("AU", 4, 0.01), ("IT", 3, -0.015), ("JP", 3, 0.035),
        ("NL", 2, 0.02), ("SE", 2, 0.015),
    ]

    init(spec: SampleDataSpec, startDay: Int) {
        var rng = Rng(seed: spec.seed, stream: 1)
        knownUsers = spec.users
        unknownUsers = max(3, spec.users / 100)
        knownEpisodes = spec.episodes
        unknownEpisodes = max(3, spec.episodes / 50)
        let userSlots = knownUsers + unknownUsers + 1
        let episodeSlots = knownEpisodes + unknownEpisodes + 1

        // Users: most signed up in the three years before the range, some during it.
        signupDay = [Int](repeating: Int.min, count: userSlots)
        country = [String](repeating: "", count: userSlots)
        completionBias = [Double](repeating: 0, count: userSlots)
        let countryAlias = AliasTable(weights: ReferenceData.countries.map(\.1))
        for n in 1...knownUsers {
            if knownUsers >= 10 && rng.chance(0.15) {
                signupDay[n] = startDay + rng.below(max(1, spec.days - 1))
            } else {
                signupDay[n] = startDay - 1 - rng.below(3 * 365)
            }
            let entry = ReferenceData.countries[countryAlias.sample(&rng)]
            country[n] = entry.0
            completionBias[n] = entry.2
        }
        // Activity: Zipf-like over a random ranking; the top tenth are heavy listeners.
        var ranks = Array(0..<knownUsers)
        rng.shuffle(&ranks)
        userAlias = AliasTable(weights: ranks.map { 1.0 / Double($0 + 10) })
        heavyUser = [Bool](repeating: false, count: userSlots)
        for (i, rank) in ranks.enumerated() where rank < max(1, knownUsers / 10) {
            heavyUser[i + 1] = true
        }

        // Episodes.
        let podcasts = max(1, (knownEpisodes + 5) / 6)
        episodeLength = [Int32](repeating: 0, count: episodeSlots)
        releaseDay = [Int](repeating: Int.min, count: episodeSlots)
        podcast = [Int](repeating: 0, count: episodeSlots)
        title = [String](repeating: "", count: episodeSlots)
        for n in 1..<episodeSlots {
            episodeLength[n] = Int32(rng.int(600, 7200))
            podcast[n] = 1 + rng.below(podcasts)
            if n <= knownEpisodes {
                releaseDay[n] =
                    knownEpisodes >= 10 && rng.chance(0.25)
                    ? startDay + rng.below(max(1, spec.days - 1))
                    : startDay - 1 - rng.below(2 * 365)
                title[n] = ReferenceData.makeTitle(number: n, rng: &rng)
            }
        }
        nextInPodcast = [Int32](repeating: 0, count: episodeSlots)
        var byPodcast = [[Int]](repeating: [], count: podcasts + 1)
        for n in 1...knownEpisodes { byPodcast[podcast[n]].append(n) }
        let releases = releaseDay
        for var list in byPodcast where list.count > 1 {
            list.sort { (releases[$0], $0) < (releases[$1], $1) }
            for i in 0..<(list.count - 1) { nextInPodcast[list[i]] = Int32(list[i + 1]) }
        }
        var episodeRanks = Array(0..<knownEpisodes)
        rng.shuffle(&episodeRanks)
        episodeAlias = AliasTable(weights: episodeRanks.map { 1.0 / Double($0 + 5) })

        buildFiles(spec: spec, rng: &rng)
    }

    // MARK: titles

    private static let topics = [
        "Sleep Science", "The Future of Work", "Deep Sea Mysteries", "Startup Failures",
        "Ancient Rome", "Climate Tech", "Jazz History", "Quantum Computing",
        "Marathon Training", "Urban Gardening", "The Vanishing", "Money Habits",
        "Black Holes", "Coffee Culture", "Chess Openings", "Remote Teams",
    ]
    private static let names = [
        "Dr. Ada Lovelace", "Maya Chen", "Jon O'Brien", "Priya Natarajan", "Luis García",
        "Hannah Schmidt", "Kwame Mensah", "Sofia Rossi",
    ]
    private static let adjectives = ["Hidden", "Strange", "Quiet", "Unlikely", "Big", "Last"]
    private static let nouns = ["Economics", "Machines", "Rivers", "Habits", "Empires", "Bets"]

    /// Titles like the real world's: commas, double quotes, apostrophes, non-ASCII.
    static func makeTitle(number n: Int, rng: inout Rng) -> String {
        let topic = topics[rng.below(topics.count)]
        let name = names[rng.below(names.count)]
        let adjective = adjectives[rng.below(adjectives.count)]
        let noun = nouns[rng.below(nouns.count)]
        switch rng.below(8) {
        case 0: return "Episode \(n): \(topic)"
        case 1: return "\(topic), Part \(1 + rng.below(4))"
        case 2: return "\"\(topic)\" with \(name)"
        case 3: return "\(topic): The \(adjective) \(noun)"
        case 4: return "The \(adjective) \(noun), Explained"
        case 5: return "\(name) on \"\(topic)\", \(noun) and More"
        case 6: return "Café Talk #\(n) — \(topic)"
        default: return "\(adjective) \(noun)"
        }
    }

    // MARK: CSV files

    private static func csvField(_ text: String, quoteAll: Bool) -> String {
        let needsQuotes =
            quoteAll || text.contains(",") || text.contains("\"") || text.contains("\n")
            || text.contains("\r")
        guard needsQuotes else { return text }
        var quoted = "\""
        for character in text {
            if character == "\"" { quoted += "\"\"" } else { quoted.append(character) }
        }
        return quoted + "\""
    }

    private struct CSVBuilder {
        var text = ""
        var line = 0
        let crlf: Bool
        var rows = 0
        var loaded = 0
        var rejects: [(line: Int, code: String)] = []

        init(header: String, crlf: Bool) {
            self.crlf = crlf
            append(raw: header)
        }

        mutating func append(raw: String) {
            text += raw
            text += crlf ? "\r\n" : "\n"
            line += 1
        }

        mutating func good(_ raw: String) {
            append(raw: raw)
            rows += 1
            loaded += 1
        }

        mutating func bad(_ raw: String, code: String) {
            append(raw: raw)
            rows += 1
            rejects.append((line, code))
        }

        func file(name: String, kind: String) -> ReferenceFile {
            ReferenceFile(
                name: name, kind: kind, bytes: Array(text.utf8), crlf: crlf, rows: rows,
                loaded: loaded, rejects: rejects)
        }
    }

    private func userRow(_ n: Int) -> String {
        "user_\(n),\(CivilTime.formatDay(signupDay[n])),\(country[n])"
    }

    private struct EpisodeRow {
        var id: String
        var podcast: String
        var title: String
        var release: String
        var duration: String
    }

    private func episodeRow(_ n: Int, title: String? = nil) -> EpisodeRow {
        EpisodeRow(
            id: "ep_\(n)", podcast: "podcast_\(podcast[n])", title: title ?? self.title[n],
            release: CivilTime.formatDay(releaseDay[n]), duration: String(episodeLength[n]))
    }

    /// Standard column order, RFC 4180 quoting where needed.
    private static func standard(_ row: EpisodeRow) -> String {
        [row.id, row.podcast, csvField(row.title, quoteAll: false), row.release, row.duration]
            .joined(separator: ",")
    }

    /// The second export's order (`podcast_id,episode_id,release_date,duration_seconds,
    /// title`), every field quoted.
    private static func reordered(_ row: EpisodeRow) -> String {
        [row.podcast, row.id, row.release, row.duration, row.title]
            .map { csvField($0, quoteAll: true) }.joined(separator: ",")
    }

    private mutating func buildFiles(spec: SampleDataSpec, rng: inout Rng) {
        let u = knownUsers
        let e = knownEpisodes

        // users.csv: all known users, plus four bad rows (ids of unknown users).
        var users = CSVBuilder(header: "user_id,signup_date,country", crlf: false)
        var badUsers: [(Int, String, String)] = [
            (1 + rng.below(u), ",\(CivilTime.formatDay(signupDay[1])),US", "missing_user_id"),
            (1 + rng.below(u), "user_\(u + 1),2023-02-30,DE", "invalid_signup_date"),
            (1 + rng.below(u), "user_\(u + 2),2023-04-04,", "missing_country"),
            (1 + rng.below(u), "user_\(u + 3),2023-01-01,US,premium", "wrong_field_count"),
        ]
        badUsers.sort { $0.0 < $1.0 }
        var nextBad = 0
        for n in 1...u {
            users.good(userRow(n))
            while nextBad < badUsers.count && badUsers[nextBad].0 == n {
                users.bad(badUsers[nextBad].1, code: badUsers[nextBad].2)
                nextBad += 1
            }
        }
        files.append(users.file(name: "users.csv", kind: "users"))
        finalUsers = (1...u).map {
            GeneratedUser(
                userId: "user_\($0)", signupDate: CivilTime.formatDay(signupDay[$0]),
                country: country[$0])
        }

        let unknown1 = e + 1
        let unknown2 = e + 2
        let unknown3 = e + 3
        var finalTitle = title

        if !spec.splitEpisodes {
            var file = CSVBuilder(
                header: "episode_id,podcast_id,title,release_date,duration_seconds", crlf: false)
            var bad: [(Int, String, String)] = [
                (1 + rng.below(e), ",podcast_1,Untitled,2023-05-01,1200", "missing_episode_id"),
                (
                    1 + rng.below(e), "ep_\(unknown1),podcast_1,Lost Episode,2023-13-40,1800",
                    "invalid_release_date"
                ),
                (
                    1 + rng.below(e), "ep_\(unknown2),podcast_1,Long Talk,2023-03-03,45:00",
                    "invalid_duration_seconds"
                ),
                (
                    1 + rng.below(e), "ep_\(unknown3),podcast_2,Hello, World,2023-03-04,1500",
                    "wrong_field_count"
                ),
            ]
            bad.sort { $0.0 < $1.0 }
            var next = 0
            for n in 1...e {
                file.good(ReferenceData.standard(episodeRow(n)))
                while next < bad.count && bad[next].0 == n {
                    file.bad(bad[next].1, code: bad[next].2)
                    next += 1
                }
            }
            files.append(file.file(name: "episodes.csv", kind: "episodes"))
        } else {
            let e1 = max(1, e * 2 / 3)
            // Drafts: wrong titles in the first file, corrected by the second.
            var drafts = Set<Int>()
            let draftCount = max(1, e1 / 15)
            while drafts.count < draftCount { drafts.insert(1 + rng.below(e1)) }
            let others = (1...e1).filter { !drafts.contains($0) }
            // A correction the second file gets wrong (rejected: the first version stays).
            let rejectedCorrection = others.isEmpty ? nil : others[rng.below(others.count)]
            let restated = others.filter { $0 != rejectedCorrection }.first

            var first = CSVBuilder(
                header: "episode_id,podcast_id,title,release_date,duration_seconds", crlf: false)
            let badPositions = (1 + rng.below(e1), 1 + rng.below(e1))
            for n in 1...e1 {
                let shown = drafts.contains(n) ? title[n] + " (draft)" : title[n]
                first.good(ReferenceData.standard(episodeRow(n, title: shown)))
                if n == badPositions.0 {
                    let row = episodeRow(unknown1)
                    first.bad(
                        // Unknown episodes have no release day: give the row a real date
                        // so that its only fault is the missing id.
                        ",\(row.podcast),Untitled,2023-05-05,\(row.duration)",
                        code: "missing_episode_id")
                }
                if n == badPositions.1 {
                    first.bad(
                        "ep_\(unknown2),podcast_1,Long Talk,2023-03-03,45:00",
                        code: "invalid_duration_seconds")
                }
            }
            files.append(first.file(name: "episodes-1.csv", kind: "episodes"))

            var second = CSVBuilder(
                header: "podcast_id,episode_id,release_date,duration_seconds,title", crlf: true)
            for n in drafts.sorted() {
                second.good(ReferenceData.reordered(episodeRow(n)))
            }
            if let n = restated { second.good(ReferenceData.reordered(episodeRow(n))) }
            if let n = rejectedCorrection {
                var row = episodeRow(n, title: title[n] + " (remastered)")
                row.release = "2023-13-40"
                second.bad(ReferenceData.reordered(row), code: "invalid_release_date")
            } else {
                var row = episodeRow(unknown1)
                row.title = "Lost Episode"
                row.release = "2023-13-40"
                second.bad(ReferenceData.reordered(row), code: "invalid_release_date")
            }
            let badAt = e1 < e ? e1 + 1 + rng.below(e - e1) : e
            if e1 < e {
                for n in (e1 + 1)...e {
                    second.good(ReferenceData.reordered(episodeRow(n)))
                    if n == badAt {
                        second.bad(
                            "podcast_2,ep_\(unknown3),2023-03-04,1500,Hello, World",
                            code: "wrong_field_count")
                    }
                }
            } else {
                second.bad(
                    "podcast_2,ep_\(unknown3),2023-03-04,1500,Hello, World",
                    code: "wrong_field_count")
            }
            files.append(second.file(name: "episodes-2.csv", kind: "episodes"))
            for n in drafts { finalTitle[n] = title[n] }
        }
        finalEpisodes = (1...e).map { n in
            GeneratedEpisode(
                episodeId: "ep_\(n)", podcastId: "podcast_\(podcast[n])", title: finalTitle[n],
                releaseDate: CivilTime.formatDay(releaseDay[n]),
                durationSeconds: Int(episodeLength[n]))
        }
    }
}
