import ArgumentParser
import Foundation
import PodpipeCore

/// Writes `text` to stdout, ending with exactly one newline.
func emit(_ text: String) {
    var out = text
    while out.hasSuffix("\n\n") { out.removeLast() }
    if !out.hasSuffix("\n") { out += "\n" }
    FileHandle.standardOutput.write(Data(out.utf8))
}

/// Writes `podpipectl: message` to stderr as one line. Messages quote file names, paths and
/// input values, so the message is escaped for the terminal (``TerminalText``).
func complain(_ message: String, program: String = "podpipectl") {
    FileHandle.standardError.write(Data("\(program): \(TerminalText.escape(message))\n".utf8))
}

/// The exit code and one-line message of a failure (see doc/cli.md, "Exit codes"): each
/// error type carries its own code (``PodpipeExit/code(for:)``, the one mapping); an error
/// never ends a command with 0.
func classify(_ error: any Error) -> CLIError {
    if let error = error as? CLIError { return error }
    let code = PodpipeExit.code(for: error)
    return CLIError(message: "\(error)", code: code == PodpipeExit.success ? PodpipeExit.databaseError : code)
}

extension AsyncParsableCommand {
    /// Runs `body`; any error but argument-parser's own becomes a message on stderr and
    /// its exit code (``classify(_:)``).
    func handling(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as ExitCode {
            throw error
        } catch let error as ValidationError {
            throw error
        } catch {
            let failure = classify(error)
            complain(failure.message)
            throw ExitCode(failure.code)
        }
    }
}

extension LedgerState: ExpressibleByArgument {}
extension FileKind: ExpressibleByArgument {}

/// Shell completion of ledger file names (`reprocess NAME`, `rejects --file NAME`): reads
/// the database named on the command line being completed (or the configured one).
enum LedgerNameCompletion {
    static func complete(_ words: [String], _ index: Int, _ prefix: String) async -> [String] {
        func value(after flag: String) -> String? {
            guard let i = words.firstIndex(of: flag), i + 1 < words.count else { return nil }
            return words[i + 1]
        }
        guard
            let config = try? await PodpipeConfig.load(
                overrides: .init(
                    configFile: value(after: "--config"), dataLoad: value(after: "--data-load"),
                    database: value(after: "--database"))),
            // A shell waits for the completion: a server that does not answer gives none.
            let database = try? InspectedDatabase.open(config, timeout: 2),
            let names = try? database.fileNames()
        else { return [] }
        return names.filter { $0.hasPrefix(prefix) }
    }
}

/// The command line's arguments as bytes. Swift decodes `argv` as UTF-8, replacing invalid
/// bytes with U+FFFD, so a file name that is not UTF-8 (Linux names are bytes) would not
/// be found again; this recovers the bytes of such an argument from `argv`.
enum RawArguments {
    /// The bytes of every `argv` entry.
    static func all() -> [[UInt8]] {
        (0..<Int(CommandLine.argc)).compactMap { index in
            CommandLine.unsafeArgv[index].map { pointer in
                Array(UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)))
            }
        }
    }

    /// The bytes each of `values` was given as: the first unused `argv` entry that decodes
    /// to it; a value's UTF-8 when none does (it was not given literally).
    static func bytes(of values: [String], argv: [[UInt8]] = all()) -> [[UInt8]] {
        var unused = argv
        return values.map { value in
            if let index = unused.firstIndex(where: { String(decoding: $0, as: UTF8.self) == value }) {
                return unused.remove(at: index)
            }
            return Array(value.utf8)
        }
    }
}
