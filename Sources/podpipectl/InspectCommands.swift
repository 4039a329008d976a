import ArgumentParser
import Foundation
import PodpipeCore

/// `podpipectl files`: the processed-file ledger.
struct Files: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the processed-file ledger, newest first.",
        discussion: """
            One row per file version: state, rows read / loaded / rejected / duplicate, the \
            first error and its line, when it finished and how long it took. --format csv \
            and json give every ledger column (sha256, size, attempts, message…).
            """)

    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: "Only files in this state: loaded, rejected, duplicate or failed.")
    var state: LedgerState?

    @Option(name: .long, help: "Only files of this kind: events, episodes or users.")
    var kind: FileKind?

    @Option(
        name: .long,
        help:
            "Only files finished since a UTC date (2024-04-21), a timestamp (2024-04-21T09:00:00Z) or a duration back from now (90m, 12h, 7d)."
    )
    var since: String?

    @Option(name: .long, help: "At most this many rows (default: all).")
    var limit: Int?

    @Option(name: .long, help: "table, csv or json.")
    var format: ReportFormat = .table

    func validate() throws {
        if let since {
            do { _ = try SinceParser.parse(since) } catch { throw ValidationError(error.description) }
        }
        if let limit, limit < 0 { throw ValidationError("--limit must be 0 or more") }
    }

    func run() async throws {
        try await handling {
            let settings = try await common.load()
            let database = try InspectedDatabase.open(settings)
            let filter = LedgerFilter(
                state: state, kind: kind, since: try since.map { try SinceParser.parse($0) },
                limit: limit)
            let table = try database.files(filter)
            emit(ReportRenderer.render(format == .table ? InspectView.files(table) : table, as: format))
        }
    }
}

/// `podpipectl rejects`: rejected rows with their codes and raw values.
struct Rejects: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show rejected rows: file, line, codes and the raw values as received.",
        discussion: """
            Newest file first, then by line. --summary counts rejected rows by code and by \
            file instead. Codes are those of doc/data-model.md (events and reference rows).
            """)

    @OptionGroup var common: CommonOptions

    @Option(
        name: .long, help: "Only rows of this file (its name in the ledger; every version).",
        completion: .custom(LedgerNameCompletion.complete))
    var file: String?

    @Option(
        name: .long, help: "Only rows carrying this validation code (e.g. missing_user_id).",
        completion: .list(Inspect.knownCodes.sorted()))
    var code: String?

    @Option(name: .long, help: "At most this many rows; 0 = all.")
    var limit: Int = 100

    @Flag(name: .long, help: "Count rejected rows by code and by file.")
    var summary = false

    @Option(name: .long, help: "table, csv or json.")
    var format: ReportFormat = .table

    func validate() throws {
        if let code, !Inspect.knownCodes.contains(code) {
            throw ValidationError(InspectError.unknownCode(code).description)
        }
        if limit < 0 { throw ValidationError("--limit must be 0 or more") }
    }

    func run() async throws {
        try await handling {
            let settings = try await common.load()
            let database = try InspectedDatabase.open(settings)
            let filter = RejectFilter(file: file, code: code, limit: limit == 0 ? nil : limit)
            if summary {
                let (byCode, byFile) = try database.rejectSummary(filter)
                switch format {
                case .table:
                    emit(
                        "by code\n" + ReportRenderer.render(byCode, as: .table) + "\nby file\n"
                            + ReportRenderer.render(InspectView.rejectsByFile(byFile), as: .table))
                case .csv:
                    // Two CSV tables would not be one file: the code counts, with the file
                    // table available as --format json.
                    emit(ReportRenderer.render(byCode, as: .csv))
                case .json:
                    emit(
                        "{\"by_code\": "
                            + ReportRenderer.render(byCode, as: .json).trimmingCharacters(in: .newlines)
                            + ",\n\"by_file\": "
                            + ReportRenderer.render(byFile, as: .json).trimmingCharacters(in: .newlines) + "}"
                    )
                }
                return
            }
            let table = try database.rejects(filter)
            emit(ReportRenderer.render(format == .table ? InspectView.rejects(table) : table, as: format))
            if format == .table, limit > 0, table.rows.count == limit {
                FileHandle.standardError.write(
                    Data(
                        "podpipectl: showing the first \(limit) rows; --limit N or --limit 0 for more, --summary for counts\n"
                            .utf8))
            }
        }
    }
}

/// `podpipectl validate`: a dry run of files.
struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Dry run: what podpiped would load from these files, what it would reject and why.",
        discussion: """
            Uses the real readers, rules and loaders, against the database opened read-only \
            (on PostgreSQL: in one transaction that is rolled back) (duplicates of events already in silver and files already in the ledger are \
            reported as podpiped would record them); nothing is written, the database file \
            stays byte-for-byte the same. Without a database, files are checked on their own. \
            Exit code: 0 every file would load (rows may be rejected), 1 a file would be \
            rejected, ignored or cannot be read (with --strict: also when a row would be \
            rejected).
            """)

    @OptionGroup var common: CommonOptions

    @Argument(
        help: "Files to check (anywhere; named as they would be in the drop folder).", completion: .file())
    var files: [String]

    @Option(name: .long, help: "Treat the files as this kind (events, episodes, users) whatever their names.")
    var kind: FileKind?

    @Option(name: .long, help: "Rejected rows listed per file; 0 = none.")
    var rows: Int = 20

    @Flag(name: .long, help: "Exit 1 when any row would be rejected.")
    var strict = false

    @Flag(name: .long, help: "One JSON object, for scripts.")
    var json = false

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one file to validate") }
        if rows < 0 { throw ValidationError("--rows must be 0 or more") }
    }

    func run() async throws {
        try await handling {
            let settings = try await common.load()
            let validator = DryRunValidator(config: settings, sampleLimit: rows, kind: kind)
            // By their bytes: a name that is not UTF-8 is validated too.
            let report = try validator.run(rawPaths: RawArguments.bytes(of: files))
            emit(json ? report.json() : report.text())
            if !report.allFilesUsable || (strict && report.anyRejection) { throw ExitCode(1) }
        }
    }
}
