import Foundation
import PodpipeSampleData
import Testing

/// `order: .random`, `lineEnds` and `faults` (issue 15): files shaped like the seed sample.
@Suite("Sample data shapes")
struct SampleDataShapeTests {
    static let seedShaped = SampleDataSpec(
        seed: 21, events: 12_000, users: 150, episodes: 40, eventFiles: 3, gzipFiles: 0,
        days: 120, recordEvents: true, order: .random, lineEnds: .crlf)

    /// Timestamps of the recorded valid events of each event file, in line order.
    static func timestampsByFile(_ manifest: SampleDataManifest) throws -> [String: [Int64]] {
        let events = try #require(manifest.events)
        var byFile: [String: [(line: Int, timestamp: Int64)]] = [:]
        for event in events { byFile[event.file, default: []].append((event.line, event.timestamp)) }
        return byFile.mapValues { $0.sorted { $0.line < $1.line }.map(\.timestamp) }
    }

    @Test("random order: every file spans the whole range with about half of its pairs descending")
    func randomOrder() throws {
        let directory = try TemporaryDirectory("shape-random")
        defer { directory.cleanUp() }
        let manifest = try SampleDataGenerator.write(Self.seedShaped, to: directory.path)
        let start = Int64(19_723) * 86_400  // 2024-01-01
        let end = start + 120 * 86_400
        let byFile = try Self.timestampsByFile(manifest)
        #expect(byFile.count == 3)
        for (name, stamps) in byFile {
            // The seed sample: 2,508 descents in 4,999 neighbouring pairs.
            let descents = zip(stamps, stamps.dropFirst()).filter { $1 < $0 }.count
            let share = Double(descents) / Double(stamps.count - 1)
            #expect(share > 0.45 && share < 0.55, "\(name): \(descents) descents")
            let lowest = try #require(stamps.min())
            let highest = try #require(stamps.max())
            #expect(lowest < start + 3 * 86_400, "\(name) starts near the range's start")
            #expect(highest > end - 3 * 86_400, "\(name) ends near the range's end")
        }
        // The books still add up: natural keys stay unique (one stream), duplicates counted.
        #expect(
            manifest.expectedSilverEvents + manifest.expectedRejectedEvents
                + manifest.expectedDuplicateEvents == manifest.eventLines)
        #expect(manifest.events?.count == manifest.expectedSilverEvents)
        let keys = Set(
            try #require(manifest.events).map {
                "\($0.userId)|\($0.episodeId)|\($0.eventType)|\($0.timestamp)"
            })
        #expect(keys.count == manifest.expectedSilverEvents)
        // About the seed sample's dirt: 3 % of the lines rejected, give or take.
        let rejected = Double(manifest.expectedRejectedEvents) / Double(manifest.eventLines)
        #expect(rejected > 0.015 && rejected < 0.05)
    }

    @Test("time order (the default) keeps files in consecutive windows, mostly ascending")
    func timeOrderUnchanged() throws {
        var spec = Self.seedShaped
        spec.order = .time
        let directory = try TemporaryDirectory("shape-time")
        defer { directory.cleanUp() }
        let manifest = try SampleDataGenerator.write(spec, to: directory.path)
        for (name, stamps) in try Self.timestampsByFile(manifest) {
            let descents = zip(stamps, stamps.dropFirst()).filter { $1 < $0 }.count
            #expect(Double(descents) / Double(stamps.count - 1) < 0.05, "\(name)")
        }
    }

    @Test("line ends: crlf on every line of every event file, lf on none, mixed on every third file")
    func lineEnds() throws {
        for ends in SampleLineEnds.allCases {
            var spec = Self.seedShaped
            spec.lineEnds = ends
            spec.recordEvents = false
            let directory = try TemporaryDirectory("shape-ends")
            defer { directory.cleanUp() }
            let manifest = try SampleDataGenerator.write(spec, to: directory.path)
            let names = manifest.files.filter { $0.hasPrefix("events-") }
            #expect(names.count == 3)
            for (index, name) in names.enumerated() {
                let text = try TestFiles.bytes(directory.file(name))
                var lf = 0
                var crlf = 0
                for (offset, byte) in text.enumerated() where byte == 10 {
                    lf += 1
                    if offset > 0 && text[offset - 1] == 13 { crlf += 1 }
                }
                let expectCRLF =
                    switch ends {
                    case .crlf: true
                    case .lf: false
                    case .mixed: index % 3 == 1
                    }
                #expect(lf > 1_000)
                #expect(crlf == (expectCRLF ? lf : 0), "\(ends) \(name)")
                #expect(manifest.detail(for: name)?.crlf == expectCRLF)
            }
        }
    }

    @Test("same seed, same bytes; another seed, another order")
    func determinism() throws {
        var spec = Self.seedShaped
        spec.recordEvents = false
        let a = try TemporaryDirectory("shape-det-a")
        let b = try TemporaryDirectory("shape-det-b")
        let c = try TemporaryDirectory("shape-det-c")
        defer {
            a.cleanUp()
            b.cleanUp()
            c.cleanUp()
        }
        let first = try SampleDataGenerator.write(spec, to: a.path)
        #expect(try SampleDataGenerator.write(spec, to: b.path) == first)
        for name in first.files {
            #expect(try TestFiles.bytes(a.file(name)) == TestFiles.bytes(b.file(name)), "\(name)")
        }
        spec.seed += 1
        _ = try SampleDataGenerator.write(spec, to: c.path)
        #expect(
            try TestFiles.bytes(a.file("events-0001.ndjson"))
                != TestFiles.bytes(c.file("events-0001.ndjson")))
    }

    @Test("the spec's JSON names order, line ends and faults only when not the default")
    func specEncoding() throws {
        let plain = String(decoding: try JSONEncoder().encode(SampleDataSpec()), as: UTF8.self)
        #expect(!plain.contains("order") && !plain.contains("lineEnds") && !plain.contains("faults"))
        var seedFaults = Self.seedShaped
        seedFaults.faults = .seed
        for spec in [Self.seedShaped, seedFaults] {
            let shaped = try JSONEncoder().encode(spec)
            #expect(try JSONDecoder().decode(SampleDataSpec.self, from: shaped) == spec)
        }
        let decoded = try JSONDecoder().decode(
            SampleDataSpec.self, from: Data(#"{"order": "random", "lineEnds": "lf"}"#.utf8))
        #expect(decoded.order == .random && decoded.lineEnds == .lf && decoded.faults == .all)
        let seed = try JSONDecoder().decode(SampleDataSpec.self, from: Data(#"{"faults": "seed"}"#.utf8))
        #expect(seed == SampleDataSpec(faults: .seed))
    }

    /// The seed sample's kinds of dirt: the only line faults of `faults: .seed`.
    static let seedFaultKinds: Set<String> = [
        "userIdNull", "episodeIdNull", "eventTypeNull", "eventTypeEmpty", "timestampNull",
        "timestampEmpty", "timestampMalformed", "durationNullOnPlayOrComplete",
    ]
    /// Counted kinds that leave the row valid and may come with them.
    static let seedCompanionKinds: Set<String> = [
        "crlfLineEnds", "lateArrival", "unknownUser", "unknownEpisode",
    ]

    @Test("faults seed: every line a JSON object with the five keys, only the seed sample's kinds")
    func seedFaults() throws {
        var spec = Self.seedShaped
        spec.faults = .seed
        let directory = try TemporaryDirectory("shape-seed-faults")
        defer { directory.cleanUp() }
        let manifest = try SampleDataGenerator.write(spec, to: directory.path)
        let rows = try #require(manifest.rows)
        var expected: [String: GeneratedRow] = [:]
        for row in rows { expected["\(row.file):\(row.line)"] = row }
        let five: Set<String> = ["event_type", "user_id", "episode_id", "timestamp", "duration"]
        let now = Int64(Date().timeIntervalSince1970)
        var checked = 0
        var malformedDates = 0
        var problems: [String] = []
        for name in manifest.files where name.hasPrefix("events-") {
            let raw = try TestFiles.text(directory.file(name))
            #expect(!raw.starts(with: [0xEF, 0xBB, 0xBF]), "\(name) has no byte-order mark")
            #expect(raw.suffix(2).elementsEqual([13, 10]), "\(name) ends with CRLF")
            let detail = try #require(manifest.detail(for: name))
            #expect(!detail.bom && detail.finalNewline && detail.blankLines == 0, "\(name)")
            for (number, bytes) in TestFiles.lines(raw) {
                let text = String(decoding: bytes, as: UTF8.self)
                let parsed = try? JSONSerialization.jsonObject(with: Data(bytes))
                guard let object = parsed as? [String: Any] else {
                    problems.append("\(name):\(number) is not a JSON object: \(text)")
                    continue
                }
                if Set(object.keys) != five { problems.append("\(name):\(number) keys: \(text)") }
                for key in ["event_type", "user_id", "episode_id", "timestamp"]
                where !(object[key] is String || object[key] is NSNull) {
                    problems.append("\(name):\(number) \(key) neither string nor null: \(text)")
                }
                if !(object["duration"] is NSNull || object["duration"] is NSNumber) {
                    problems.append("\(name):\(number) duration neither number nor null: \(text)")
                }
                if object["timestamp"] as? String == "malformed-date" { malformedDates += 1 }
                let row = try #require(expected["\(name):\(number)"], "\(name):\(number)")
                checked += 1
                // One fault per dirty line, always a seed kind, and every one rejects.
                if !row.duplicate {
                    if !Set(row.faults).isSubset(of: Self.seedFaultKinds) || row.faults.count > 1
                        || row.faults.isEmpty != row.codes.isEmpty
                    {
                        problems.append("\(name):\(number) faults \(row.faults) codes \(row.codes)")
                    }
                }
                let (codes, _) = IndependentValidator.validate(bytes, now: now)
                if codes != Set(row.codes) {
                    problems.append("\(name):\(number) expected \(row.codes) got \(codes.sorted())")
                }
            }
        }
        #expect(problems.isEmpty, "\(problems.prefix(10).joined(separator: "\n"))")
        #expect(checked == manifest.eventLines)
        #expect(manifest.blankLines == 0)

        // The manifest counts only the seed's kinds (and valid companions), each of them.
        let counted = Set(manifest.faultCounts.filter { $0.value > 0 }.keys)
        let allowed = Self.seedFaultKinds.union(Self.seedCompanionKinds)
        #expect(counted.isSubset(of: allowed), "\(counted.subtracting(allowed).sorted())")
        for kind in Self.seedFaultKinds {
            #expect((manifest.faultCounts[kind] ?? 0) > 0, "\(kind)")
        }
        #expect(malformedDates == manifest.faultCounts["timestampMalformed"])
        // Weighted like the sample: null user ids the most frequent kind.
        let counts = Self.seedFaultKinds.map { manifest.faultCounts[$0] ?? 0 }
        #expect(manifest.faultCounts["userIdNull"] == counts.max())
        // One code per rejected row, only the codes the seed's dirt gives.
        let seedCodes: Set<String> = [
            "missing_user_id", "missing_episode_id", "missing_event_type", "invalid_event_type",
            "missing_timestamp", "invalid_timestamp", "invalid_duration_for_play_complete",
        ]
        let codesSeen = Set(manifest.expectedCodeCounts.filter { $0.value > 0 }.keys)
        #expect(codesSeen == seedCodes)
        #expect(manifest.expectedCodeCounts.values.reduce(0, +) == manifest.expectedRejectedEvents)
        let rejected = Double(manifest.expectedRejectedEvents) / Double(manifest.eventLines)
        #expect(rejected > 0.02 && rejected < 0.04)
    }
}
