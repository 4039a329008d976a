import Foundation
import PodpipeSampleData
import Testing

@Suite("Sample data generator")
struct SampleDataGeneratorTests {
    // MARK: determinism

    @Test("same spec, same bytes and mtimes")
    func determinism() throws {
        var spec = SampleDataSpec(seed: 7, events: 6_000, eventFiles: 4, gzipFiles: 2)
        spec.ledgerEdgeCases = true
        spec.recordEvents = true
        let first = try TemporaryDirectory("det-a")
        let second = try TemporaryDirectory("det-b")
        defer {
            first.cleanUp()
            second.cleanUp()
        }
        let a = try SampleDataGenerator.write(spec, to: first.path)
        let b = try SampleDataGenerator.write(spec, to: second.path)
        #expect(a == b)
        let names = try FileManager.default.contentsOfDirectory(atPath: first.path).sorted()
        #expect(names == (try FileManager.default.contentsOfDirectory(atPath: second.path).sorted()))
        for name in names where name != "archive.ndjson" {
            #expect(try TestFiles.bytes(first.file(name)) == TestFiles.bytes(second.file(name)), "\(name)")
            #expect(
                try TestFiles.modificationTime(first.file(name))
                    == TestFiles.modificationTime(second.file(name)), "\(name)")
        }
        // Recording the oracle and adding ledger edge cases change no event bytes.
        var plainSpec = spec
        plainSpec.recordEvents = false
        plainSpec.ledgerEdgeCases = false
        let plain = try TemporaryDirectory("det-plain")
        defer { plain.cleanUp() }
        let p = try SampleDataGenerator.write(plainSpec, to: plain.path)
        #expect(p.events == nil && p.rows == nil)
        #expect(p.expectedCodeCounts == a.expectedCodeCounts)
        for name in p.files {
            #expect(try TestFiles.bytes(plain.file(name)) == TestFiles.bytes(first.file(name)), "\(name)")
        }
        // Another seed gives other data.
        spec.seed = 8
        let third = try TemporaryDirectory("det-c")
        defer { third.cleanUp() }
        _ = try SampleDataGenerator.write(spec, to: third.path)
        #expect(
            try TestFiles.bytes(first.file("events-0001.ndjson"))
                != TestFiles.bytes(third.file("events-0001.ndjson")))
    }

    @Test("gzip files decompress to the text of the plain variant")
    func gzipMatchesPlain() throws {
        var plainSpec = SampleDataSpec(seed: 11, events: 8_000, eventFiles: 4, gzipFiles: 0)
        plainSpec.recordEvents = true
        var gzipSpec = plainSpec
        gzipSpec.gzipFiles = 4
        let plain = try TemporaryDirectory("gz-plain")
        let zipped = try TemporaryDirectory("gz-zipped")
        defer {
            plain.cleanUp()
            zipped.cleanUp()
        }
        let p = try SampleDataGenerator.write(plainSpec, to: plain.path)
        let z = try SampleDataGenerator.write(gzipSpec, to: zipped.path)
        #expect(p.eventLines == z.eventLines)
        #expect(p.expectedCodeCounts == z.expectedCodeCounts)
        #expect(p.expectedSilverEvents == z.expectedSilverEvents)
        #expect(p.faultCounts == z.faultCounts)
        for i in 1...4 {
            let base = "events-000\(i).ndjson"
            #expect(FileManager.default.fileExists(atPath: zipped.file(base + ".gz")))
            let (_, status) = try TestFiles.gzip(["-t", zipped.file(base + ".gz")])
            #expect(status == 0, "gzip -t \(base).gz")
            #expect(try TestFiles.text(zipped.file(base + ".gz")) == TestFiles.bytes(plain.file(base)))
        }
        // Events recorded identically, only the file names differ.
        #expect(p.events?.map(\.timestamp) == z.events?.map(\.timestamp))
    }

    // MARK: manifest

    @Test("manifest adds up and matches the files on disk")
    func manifestConsistency() async throws {
        let (directory, manifest) = try await Generated.shared.get(
            .recordedDefault, label: "recorded-default")
        #expect(
            manifest.expectedSilverEvents + manifest.expectedRejectedEvents
                + manifest.expectedDuplicateEvents == manifest.eventLines)
        #expect(manifest.eventLines == manifest.spec.events)
        let eventDetails = manifest.fileDetails.filter {
            $0.kind == "events" && $0.expectedState == "loaded"
        }
        #expect(eventDetails.count == manifest.spec.eventFiles)
        #expect(eventDetails.filter(\.gzip).count == manifest.spec.gzipFiles)
        var rows = 0
        var blanks = 0
        var codeTotals: [String: Int] = [:]
        for detail in eventDetails {
            #expect(detail.loaded + detail.rejected + detail.duplicates == detail.rows, "\(detail.name)")
            let lines = TestFiles.lines(try TestFiles.text(directory.file(detail.name)))
            let blank = lines.filter { TestFiles.isBlank($0.bytes) }.count
            #expect(lines.count - blank == detail.rows, "\(detail.name)")
            #expect(blank == detail.blankLines, "\(detail.name)")
            rows += detail.rows
            blanks += blank
            for (code, n) in detail.codeCounts { codeTotals[code, default: 0] += n }
            let raw = try TestFiles.text(directory.file(detail.name))
            #expect(raw.starts(with: [0xEF, 0xBB, 0xBF]) == detail.bom, "\(detail.name)")
            #expect((raw.last == 10) == detail.finalNewline, "\(detail.name)")
            #expect(raw.contains(13) == detail.crlf, "\(detail.name)")
        }
        #expect(rows == manifest.eventLines)
        #expect(blanks == manifest.blankLines)
        #expect(codeTotals == manifest.expectedCodeCounts.filter { $0.value > 0 })
        #expect(
            manifest.referenceRejects.count
                == manifest.expectedReferenceRejects.values.reduce(0, +))
        #expect(manifest.events?.count == manifest.expectedSilverEvents)
        #expect(manifest.rows?.count == manifest.eventLines)

        // Processing order = modification time order, strictly increasing, on disk too.
        var previous = Int64.min
        for name in manifest.files {
            let detail = try #require(manifest.detail(for: name))
            let mtime = try TestFiles.modificationTime(directory.file(name))
            #expect(mtime == detail.modificationTime, "\(name)")
            #expect(mtime > previous, "\(name)")
            previous = mtime
        }
        #expect(manifest.files.prefix(2) == ["users.csv", "episodes-1.csv"])
        let episodes2 = try #require(manifest.files.firstIndex(of: "episodes-2.csv"))
        #expect(episodes2 > 2 && episodes2 < 2 + manifest.spec.eventFiles)
        for name in manifest.ignoredFiles {
            #expect(FileManager.default.fileExists(atPath: directory.file(name)), "\(name)")
            #expect(manifest.fileStates[name] == "ignored")
        }
        // No leftovers from the write-then-rename.
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(!names.contains { $0.hasSuffix(".tmp") && $0.hasPrefix(".") })
    }

    @Test("every fault kind, duplicate kind and code appears in the default spec")
    func everyFaultAppears() async throws {
        let (_, manifest) = try await Generated.shared.get(.recordedDefault, label: "recorded-default")
        for kind in SampleFaultKind.allCases {
            #expect((manifest.faultCounts[kind.rawValue] ?? 0) > 0, "fault \(kind.rawValue)")
        }
        for kind in SampleDuplicateKind.allCases {
            #expect((manifest.duplicateCounts[kind.rawValue] ?? 0) > 0, "duplicate \(kind.rawValue)")
        }
        #expect(manifest.expectedCodeCounts.count == 16)
        for (code, n) in manifest.expectedCodeCounts { #expect(n > 0, "code \(code)") }
        #expect(manifest.expectedReferenceRejects.count == 7)
        for (code, n) in manifest.expectedReferenceRejects { #expect(n > 0, "reference code \(code)") }
        #expect(manifest.expectedEventsWithUnknownUser > 0)
        #expect(manifest.expectedEventsWithUnknownEpisode > 0)
        let rate = Double(manifest.expectedRejectedEvents) / Double(manifest.eventLines)
        #expect(rate > 0.01 && rate < 0.05)
        let duplicateRate = Double(manifest.expectedDuplicateEvents) / Double(manifest.eventLines)
        #expect(duplicateRate > 0.005 && duplicateRate < 0.02)
    }

    // MARK: line by line

    @Test("every row: JSON validity, codes and silver events agree with an independent validator")
    func rowsMatchIndependentValidator() async throws {
        let (directory, manifest) = try await Generated.shared.get(
            .recordedDefault, label: "recorded-default")
        let rows = try #require(manifest.rows)
        let events = try #require(manifest.events)
        var expected: [String: GeneratedRow] = [:]
        for row in rows { expected["\(row.file):\(row.line)"] = row }
        let now = Int64(Date().timeIntervalSince1970)
        var seen = Set<String>()
        var silver: [GeneratedEvent] = []
        var checked = 0
        var mismatches: [String] = []
        for name in manifest.files
        where manifest.detail(for: name)?.kind == "events"
            && manifest.fileStates[name] == "loaded"
        {
            for (number, bytes) in TestFiles.lines(try TestFiles.text(directory.file(name))) {
                if TestFiles.isBlank(bytes) { continue }
                let row = try #require(expected["\(name):\(number)"], "\(name):\(number)")
                checked += 1
                let meantAsJSON = row.codes != ["malformed_json"]
                #expect(IndependentValidator.isJSON(bytes) == meantAsJSON, "\(name):\(number)")
                let (codes, event) = IndependentValidator.validate(bytes, now: now)
                if codes != Set(row.codes) {
                    mismatches.append(
                        "\(name):\(number) \(String(decoding: bytes, as: UTF8.self)) "
                            + "expected \(row.codes) got \(codes.sorted()) faults \(row.faults)")
                }
                guard let event else {
                    #expect(!row.duplicate)
                    continue
                }
                if seen.insert(event.naturalKey).inserted {
                    #expect(!row.duplicate, "\(name):\(number) is first")
                    silver.append(
                        GeneratedEvent(
                            userId: event.userId, episodeId: event.episodeId,
                            eventType: event.eventType, timestamp: event.timestamp,
                            duration: event.duration, file: name, line: number))
                } else {
                    #expect(row.duplicate, "\(name):\(number) repeats a key")
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10).joined(separator: "\n"))")
        #expect(checked == manifest.eventLines)
        #expect(silver == events)
    }

    // MARK: reference data

    @Test(
        "reference CSVs: rejects and latest-wins state agree with the manifest",
        arguments: [true, false])
    func referenceFiles(split: Bool) async throws {
        var spec = SampleDataSpec.recordedDefault
        spec.splitEpisodes = split
        if !split { spec.events = 2_000 }
        let (directory, manifest) = try await Generated.shared.get(
            spec, label: split ? "recorded-default" : "recorded-single-episodes")
        var users: [String: GeneratedUser] = [:]
        var episodes: [String: GeneratedEpisode] = [:]
        var rejects: [SampleReferenceReject] = []
        func realDay(_ text: String) -> Bool {
            IndependentValidator.parseTimestamp(text + "T00:00:00") != nil && text.count == 10
        }
        for name in manifest.files where name.hasSuffix(".csv") {
            let text = String(decoding: try TestFiles.bytes(directory.file(name)), as: UTF8.self)
            let rows = CSVReader.rows(text)
            let header = try #require(rows.first).fields
            func column(_ name: String) throws -> Int { try #require(header.firstIndex(of: name)) }
            for (line, fields) in rows.dropFirst() {
                func reject(_ code: String) { rejects.append(.init(file: name, line: line, code: code)) }
                guard fields.count == header.count else {
                    reject("wrong_field_count")
                    continue
                }
                if name.hasPrefix("users") {
                    let id = fields[try column("user_id")].trimmingCharacters(in: .whitespaces)
                    let signup = fields[try column("signup_date")]
                    let country = fields[try column("country")]
                    if id.isEmpty { reject("missing_user_id"); continue }
                    if !realDay(signup) { reject("invalid_signup_date"); continue }
                    if country.isEmpty { reject("missing_country"); continue }
                    users[id] = GeneratedUser(userId: id, signupDate: signup, country: country)
                } else {
                    let id = fields[try column("episode_id")].trimmingCharacters(in: .whitespaces)
                    let release = fields[try column("release_date")]
                    let duration = Int(fields[try column("duration_seconds")]) ?? 0
                    if id.isEmpty { reject("missing_episode_id"); continue }
                    if !realDay(release) { reject("invalid_release_date"); continue }
                    if duration <= 0 { reject("invalid_duration_seconds"); continue }
                    episodes[id] = GeneratedEpisode(
                        episodeId: id, podcastId: fields[try column("podcast_id")],
                        title: fields[try column("title")], releaseDate: release,
                        durationSeconds: duration)
                }
            }
        }
        #expect(rejects == manifest.referenceRejects)
        let expectedUsers = try #require(manifest.users)
        let expectedEpisodes = try #require(manifest.episodes)
        #expect(Set(users.values) == Set(expectedUsers))
        #expect(Set(episodes.values) == Set(expectedEpisodes))
        #expect(expectedUsers.count == manifest.expectedUsers)
        #expect(expectedEpisodes.count == manifest.expectedEpisodes)
        #expect(manifest.expectedReferenceRejects.values.allSatisfy { $0 > 0 })
        guard split else {
            #expect(manifest.files.filter { $0.hasPrefix("episodes") } == ["episodes.csv"])
            return
        }
        // The second file corrects at least one title of the first.
        let first = CSVReader.rows(
            String(decoding: try TestFiles.bytes(directory.file("episodes-1.csv")), as: UTF8.self))
        let draftTitles = first.dropFirst().filter {
            $0.fields.count == 5 && $0.fields[2].hasSuffix("(draft)")
        }
        #expect(!draftTitles.isEmpty)
        for draft in draftTitles {
            #expect(episodes[draft.fields[0]]?.title == String(draft.fields[2].dropLast(8)))
        }
        // Titles with commas and quotes exist.
        #expect(expectedEpisodes.contains { $0.title.contains(",") })
        #expect(expectedEpisodes.contains { $0.title.contains("\"") })
    }

    // MARK: realism

    @Test("events span the range in consecutive windows and the analyses are non-trivial")
    func realism() throws {
        let directory = try TemporaryDirectory("demo")
        defer { directory.cleanUp() }
        let manifest = try SampleDataGenerator.write(.demo, to: directory.path)
        let events = try #require(manifest.events)
        let start = Int64(19_723) * 86_400  // 2024-01-01
        let end = start + Int64(SampleDataSpec.demo.days) * 86_400
        #expect(events.allSatisfy { $0.timestamp >= start && $0.timestamp < end + 86_400 })
        #expect((manifest.lastEventTimestamp ?? 0) > end - 3 * 86_400)
        // Windows: the median timestamp of each file increases.
        var medians: [Int64] = []
        for name in manifest.files where name.hasPrefix("events-") {
            let stamps = events.filter { $0.file == name }.map(\.timestamp).sorted()
            medians.append(stamps[stamps.count / 2])
        }
        #expect(medians == medians.sorted())
        // Mostly in time order within a file.
        var inversions = 0
        for (a, b) in zip(events, events.dropFirst()) where a.file == b.file && b.timestamp < a.timestamp {
            inversions += 1
        }
        #expect(Double(inversions) / Double(events.count) < 0.05)
        // Four event types, durations only on play/complete.
        let types = Dictionary(grouping: events, by: \.eventType).mapValues(\.count)
        #expect(Set(types.keys) == ["play", "pause", "seek", "complete"])
        #expect(
            events.allSatisfy {
                ($0.duration != nil) == ($0.eventType == "play" || $0.eventType == "complete")
            })

        let oracle = try #require(SampleDataOracle(manifest))
        let top = oracle.topCompletedEpisodes()
        #expect(top.count == 10)
        #expect(top.map(\.rank) == Array(1...10))
        #expect(zip(top, top.dropFirst()).allSatisfy { $0.completions >= $1.completions })
        let rates = oracle.listenThroughByCountry()
        #expect(rates.count >= 8)
        #expect(rates.map(\.country) == rates.map(\.country).sorted())
        #expect(rates.allSatisfy { $0.averageListenThroughRate > 0.85 && $0.averageListenThroughRate < 1.1 })
        let multi = oracle.multiEpisodeListeners()
        #expect(multi.users > 3)
        #expect(multi.users < manifest.expectedUsers)
        #expect(!multi.byDay.isEmpty)
    }

    // MARK: spec

    @Test("spec validation and partial decoding")
    func specValidation() throws {
        let directory = try TemporaryDirectory("spec")
        defer { directory.cleanUp() }
        var bad = SampleDataSpec()
        bad.startDay = "2024-02-30"
        #expect(throws: SampleDataError.self) { try SampleDataGenerator.write(bad, to: directory.path) }
        bad = SampleDataSpec(events: 3, eventFiles: 4)
        #expect(
            throws: SampleDataError.invalidSpec(field: "eventFiles", reason: "more files than event lines")
        ) {
            try bad.validate()
        }
        bad = SampleDataSpec(gzipFiles: 9)
        #expect(throws: SampleDataError.self) { try bad.validate() }
        try SampleDataSpec.demo.validate()
        try SampleDataSpec.benchmark(events: 10_000_000).validate()

        let decoded = try JSONDecoder().decode(
            SampleDataSpec.self, from: Data(#"{"seed": 5, "events": 1234}"#.utf8))
        var expected = SampleDataSpec()
        expected.seed = 5
        expected.events = 1234
        #expect(decoded == expected)
        let roundTrip = try JSONDecoder().decode(
            SampleDataSpec.self, from: JSONEncoder().encode(SampleDataSpec.demo))
        #expect(roundTrip == .demo)
    }

    @Test("tiny specs work: one file, one user, one episode")
    func tinySpecs() throws {
        let directory = try TemporaryDirectory("tiny")
        defer { directory.cleanUp() }
        let spec = SampleDataSpec(
            seed: 3, events: 40, users: 1, episodes: 1, eventFiles: 1, gzipFiles: 1, days: 1,
            splitEpisodes: true, recordEvents: true)
        let manifest = try SampleDataGenerator.write(spec, to: directory.path)
        #expect(manifest.eventLines == 40)
        #expect(manifest.files == ["users.csv", "episodes-1.csv", "events-0001.ndjson.gz", "episodes-2.csv"])
        #expect(
            manifest.expectedSilverEvents + manifest.expectedRejectedEvents
                + manifest.expectedDuplicateEvents == 40)
    }

    @Test("I/O errors name the path")
    func ioErrors() throws {
        let directory = try TemporaryDirectory("io")
        defer { directory.cleanUp() }
        let blocker = directory.file("not-a-dir")
        #expect(FileManager.default.createFile(atPath: blocker, contents: Data("x".utf8)))
        do {
            _ = try SampleDataGenerator.write(SampleDataSpec(events: 100), to: blocker + "/sub")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("not-a-dir"))
        }
    }
}
