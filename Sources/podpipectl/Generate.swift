import ArgumentParser
import Foundation
import PodpipeCore
import PodpipeSampleData

/// `podpipectl generate`: the deterministic dirty sample/test data generator.
struct Generate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a deterministic, realistic and dirty data set into a folder.",
        discussion: """
            Same options, same bytes. The manifest (expected rows, codes and states) is \
            printed as JSON with --manifest, or written to a file with --manifest-file \
            (do not put it in the drop folder: *.json is an event-file name).
            """)

    @Option(name: .long, help: "The folder to write into (created if missing).")
    var out: String

    @Option(name: .long, help: "Seed of the pseudo-random streams.")
    var seed: UInt64 = 42

    @Option(name: .long, help: "Event lines in total (dirty ones and duplicates included).")
    var events: Int = 20_000

    @Option(name: .long, help: "Users in the reference data.")
    var users: Int = 200

    @Option(name: .long, help: "Episodes in the reference data.")
    var episodes: Int = 60

    @Option(name: .long, help: "Number of event files.")
    var files: Int = 6

    @Option(name: .customLong("gzip-files"), help: "How many of the event files are gzipped.")
    var gzipFiles: Int = 2

    @Option(name: .customLong("dirty-rate"), help: "Fraction of event lines carrying a fault.")
    var dirtyRate: Double = 0.03

    @Option(name: .customLong("duplicate-rate"), help: "Fraction of events re-delivered.")
    var duplicateRate: Double = 0.01

    @Option(name: .customLong("start-day"), help: "First UTC day of the events (YYYY-MM-DD).")
    var startDay: String = "2024-01-01"

    @Option(name: .long, help: "Days the events span.")
    var days: Int = 120

    @Option(
        name: .long,
        help: """
            Line order within event files: time (each file the next window of the range) or \
            random (each file spans the whole range, like the seed sample).
            """)
    var order: SampleEventOrder = .time

    @Option(
        name: .customLong("line-ends"),
        help: "Event files' line ends: mixed (every third file CRLF), lf or crlf.")
    var lineEnds: SampleLineEnds = .mixed

    @Option(
        name: .long,
        help: """
            Kinds of dirt in the event lines: all (every kind) or seed (only the seed \
            sample's: null ids, null or empty event types, null, empty or malformed \
            timestamps, null play/complete durations; every line a JSON object).
            """)
    var faults: SampleFaults = .all

    @Flag(
        name: .customLong("ledger-edge-cases"),
        help: "Also write duplicate, empty, binary, truncated and ignored files.")
    var ledgerEdgeCases = false

    @Flag(name: .long, help: "Print the manifest as JSON on stdout.")
    var manifest = false

    @Option(name: .customLong("manifest-file"), help: "Write the manifest as JSON to this file.")
    var manifestFile: String?

    var spec: SampleDataSpec {
        SampleDataSpec(
            seed: seed, events: events, users: users, episodes: episodes, eventFiles: files,
            gzipFiles: gzipFiles, dirtyRate: dirtyRate, duplicateRate: duplicateRate,
            startDay: startDay, days: days, splitEpisodes: true, recordEvents: false,
            ledgerEdgeCases: ledgerEdgeCases, order: order, lineEnds: lineEnds, faults: faults)
    }

    /// Bad option values are usage errors (exit 64, with the option named), like every
    /// other command-line mistake; only a failure to write the files exits 1.
    func validate() throws {
        do {
            try spec.validate()
        } catch {
            guard case .invalidSpec(let field, let reason) = error else { throw ValidationError("\(error)") }
            throw ValidationError("--\(Self.optionNames[field] ?? field): \(reason)")
        }
    }

    /// The option of each ``SampleDataSpec`` field, for the usage message.
    static let optionNames = [
        "seed": "seed", "events": "events", "users": "users", "episodes": "episodes",
        "eventFiles": "files", "gzipFiles": "gzip-files", "dirtyRate": "dirty-rate",
        "duplicateRate": "duplicate-rate", "startDay": "start-day", "days": "days",
    ]

    func run() async throws {
        let spec = self.spec
        let result: SampleDataManifest
        do {
            result = try SampleDataGenerator.write(spec, to: out)
        } catch {
            complain("\(error)", program: "podpipectl generate")
            throw ExitCode(1)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        if manifest || manifestFile != nil {
            let data = try encoder.encode(result)
            if let manifestFile {
                try data.write(to: URL(fileURLWithPath: manifestFile))
            }
            if manifest {
                FileHandle.standardOutput.write(data)
                FileHandle.standardOutput.write(Data("\n".utf8))
            }
        }
        if !manifest {
            print(
                "wrote \(result.files.count) files to \(TerminalText.escape(out)): \(result.eventLines) event lines (\(result.expectedSilverEvents) valid, \(result.expectedRejectedEvents) rejected, \(result.expectedDuplicateEvents) duplicates), \(result.expectedUsers) users, \(result.expectedEpisodes) episodes"
            )
        }
    }
}

extension SampleEventOrder: ExpressibleByArgument {}
extension SampleLineEnds: ExpressibleByArgument {}
extension SampleFaults: ExpressibleByArgument {}
