import Foundation
import PodpipeSampleData
import Testing

/// `order: .random` and `lineEnds` (issue 15): files shaped like the seed sample.
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

    @Test("the spec's JSON names order and line ends only when not the default")
    func specEncoding() throws {
        let plain = String(decoding: try JSONEncoder().encode(SampleDataSpec()), as: UTF8.self)
        #expect(!plain.contains("order") && !plain.contains("lineEnds"))
        let shaped = try JSONEncoder().encode(Self.seedShaped)
        #expect(try JSONDecoder().decode(SampleDataSpec.self, from: shaped) == Self.seedShaped)
        let decoded = try JSONDecoder().decode(
            SampleDataSpec.self, from: Data(#"{"order": "random", "lineEnds": "lf"}"#.utf8))
        #expect(decoded.order == .random && decoded.lineEnds == .lf)
    }
}
