import ArgumentParser
import Foundation
import PodpipeCore
import PodpipeSampleData

/// `podpipectl`: the operator's and analyst's tool (thin over PodpipeCore).
@main
struct Podpipectl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "podpipectl",
        abstract: "Inspect, query and maintain a podpipe database.",
        discussion: """
            Read-only commands (status, metrics, files, rejects, report, export, validate) never take \
            the writer lock and work while the daemon writes. ack writes beside a running \
            daemon. reprocess and revalidate write: \
            they need the writer lock (stop the daemon first). refresh brings gold up to \
            date. Shell completions: podpipectl --generate-completion-script bash|zsh|fish.
            """,
        subcommands: [
            Status.self, Files.self, Rejects.self, Report.self, Validate.self, Reprocess.self,
            Revalidate.self, Refresh.self, Prune.self, Generate.self,
            // Health and metrics (issue 16).
            Metrics.self, Ack.self,
            // Analysts (issue 17).
            Export.self,
        ])

    /// SPEC §8 puts the shared options before the subcommand
    /// (`podpipectl [--config FILE] [--database FILE] status`); argument-parser reads them
    /// after it. Leading shared options are moved behind the subcommand name.
    static func main() async {
        ProcessMemory.configure()
        await main(CommonOptions.hoisted(Array(CommandLine.arguments.dropFirst())))
    }
}

/// Options every subcommand shares (SPEC §8: `podpipectl [--config FILE] [--database FILE] …`).
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (JSON). Default: $PODPIPE_CONFIG, else built-in defaults.")
    var config: String?

    @Option(name: .long, help: "The SQLite database file (overrides database).")
    var database: String?

    @Option(name: .customLong("data-load"), help: "The drop folder (overrides data_load).")
    var dataLoad: String?

    /// The options (with a value) that may also come before the subcommand.
    static let leading = ["--config", "--database", "--data-load"]

    /// `args` with leading shared options (`--database X`, `--database=X`) moved after the
    /// first argument that is not one of them (the subcommand name). Anything else is kept
    /// as it is, in order.
    static func hoisted(_ args: [String]) -> [String] {
        var moved: [String] = []
        var index = 0
        while index < args.count {
            let arg = args[index]
            if leading.contains(arg), index + 1 < args.count {
                moved += [arg, args[index + 1]]
                index += 2
            } else if leading.contains(where: { arg.hasPrefix($0 + "=") }) {
                moved.append(arg)
                index += 1
            } else {
                break
            }
        }
        guard !moved.isEmpty, index < args.count else { return args }
        return [args[index]] + moved + args[(index + 1)...]
    }

    func load() async throws -> PodpipeConfig {
        do {
            let loaded = try await PodpipeConfig.load(
                overrides: .init(configFile: config, dataLoad: dataLoad, database: database))
            for warning in loaded.warnings {
                FileHandle.standardError.write(Data("podpipectl: warning: \(warning)\n".utf8))
            }
            return loaded
        } catch {
            throw CLIError(message: "\(error)", code: PodpipeExit.configuration)
        }
    }

    func openStore(_ settings: PodpipeConfig) throws -> Store {
        do {
            return try Store.openForReading(path: settings.database)
        } catch {
            throw CLIError(message: "\(error)", code: PodpipeExit.databaseError)
        }
    }
}

/// A failure reported as one line on stderr with a specific exit code.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var code: Int32
    var description: String { message }
}

extension AsyncParsableCommand {
    /// Runs `body`, turning a `CLIError` into its message and exit code.
    func reporting(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as CLIError {
            complain(error.message)
            throw ExitCode(error.code)
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the pipeline at a glance.",
        discussion:
            "Exit code: 0 healthy, 1 degraded (failed or rejected files not acknowledged, stale gold, a file waiting longer than health.max_backlog_age, a running daemon's last pass older than health.max_pass_age), 2 daemon expected but not running."
    )

    @OptionGroup var common: CommonOptions

    @Flag(name: .long, help: "One JSON object, for monitoring.")
    var json = false

    func run() async throws {
        try await reporting {
            let settings = try await common.load()
            let report: StatusReport
            do {
                if let warehouse = try Warehouse.open(settings) {
                    report = try warehouse.status(config: settings)
                } else {
                    report = try StatusReport.gather(store: try common.openStore(settings), config: settings)
                }
            } catch let error as CLIError {
                throw error
            } catch {
                throw CLIError(message: "\(error)", code: PodpipeExit.databaseError)
            }
            print(json ? report.json() : report.text())
            if report.exitCode != 0 { throw ExitCode(report.exitCode) }
        }
    }
}

extension ReportKind: ExpressibleByArgument {}
extension ReportFormat: ExpressibleByArgument {}
extension MetricsGrouping: ExpressibleByArgument {}

/// What `podpipectl report` makes: one report's table on stdout, or (`html`) the page of
/// them all written to `--out`.
enum ReportTarget: ExpressibleByArgument, Equatable {
    case table(ReportKind)
    case html

    init?(argument: String) {
        if argument == "html" {
            self = .html
        } else if let kind = ReportKind(rawValue: argument) {
            self = .table(kind)
        } else {
            return nil
        }
    }

    static var allValueStrings: [String] { ReportKind.allCases.map(\.rawValue) + ["html"] }
}

struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print an analysis table from gold, or write the HTML report.",
        discussion: """
            Reports: \(ReportKind.allCases.map(\.rawValue).joined(separator: ", ")). \
            `report html --out FILE` writes one self-contained HTML page (inline CSS and SVG \
            charts, nothing fetched when viewed) with all of them; its numbers are those of \
            --format json.
            """)

    @OptionGroup var common: CommonOptions

    @Argument(help: "The report, or html: all of them as one HTML page (with --out).")
    var kind: ReportTarget

    @Option(
        name: .customLong("as-of"),
        help: "top-episodes, podcast-metrics: the last day of the window (YYYY-MM-DD).")
    var asOf: String?

    @Flag(name: .customLong("by-day"), help: "multi-episode-users, podcast-metrics: one row per day.")
    var byDay = false

    @Option(name: .long, help: "podcast-metrics: one row per episode or per podcast.")
    var by: MetricsGrouping = .episode

    @Option(name: .long, help: "podcast-metrics: the window's number of UTC days, ending on --as-of.")
    var days: Int = 7

    @Option(
        name: .customLong("min-listeners"),
        help: "podcast-metrics: hide the metrics of rows with fewer listeners (0: show all).")
    var minListeners: Int = 0

    @Option(name: .long, help: "table, csv or json (default: table).")
    var format: ReportFormat?

    @Option(name: .long, help: "html: the file to write (- for standard output).", completion: .file())
    var out: String?

    func validate() throws {
        switch kind {
        case .html:
            if out == nil {
                throw ValidationError("report html needs --out FILE (or --out - for standard output)")
            }
            if format != nil { throw ValidationError("report html writes HTML: --format does not apply") }
            if byDay { throw ValidationError("report html: --by-day does not apply") }
        case .table:
            if out != nil {
                throw ValidationError("--out is for report html; other reports print to standard output")
            }
        }
    }

    func run() async throws {
        try await reporting {
            let settings = try await common.load()
            let options = ReportOptions(
                asOf: asOf, byDay: byDay, days: days, grouping: by, minListeners: minListeners)
            // A PostgreSQL warehouse, or nil for a SQLite file.
            let warehouse: Warehouse?
            do {
                warehouse = try Warehouse.open(settings)
            } catch {
                throw CLIError(message: "\(error)", code: 1)
            }
            switch kind {
            case .html:
                let page: HTMLReport.Page
                do {
                    if let warehouse {
                        page = try warehouse.htmlPage(options: options)
                    } else {
                        let store = try common.openStore(settings)
                        page = try await store.pool.read { db in
                            try HTMLReport.gather(options: options, in: db)
                        }
                    }
                } catch let error as CLIError {
                    throw error
                } catch {
                    throw CLIError(message: "\(error)", code: 1)
                }
                let html = HTMLReport.render(page)
                guard let out, out != "-" else {
                    FileHandle.standardOutput.write(Data(html.utf8))
                    return
                }
                do {
                    try ReportOutput.write(html, to: out)
                } catch {
                    throw CLIError(message: "\(error)", code: PodpipeExit.code(for: error))
                }
            case .table(let report):
                let table: ReportTable
                do {
                    if let warehouse {
                        table = try warehouse.report(report, options: options)
                    } else {
                        let store = try common.openStore(settings)
                        table = try await store.pool.read { db in
                            try Reports.run(report, options: options, in: db)
                        }
                    }
                } catch let error as CLIError {
                    throw error
                } catch {
                    throw CLIError(message: "\(error)", code: 1)
                }
                let text = ReportRenderer.render(table, as: format ?? .table)
                FileHandle.standardOutput.write(Data(text.utf8))
                if !text.hasSuffix("\n") { FileHandle.standardOutput.write(Data("\n".utf8)) }
            }
        }
    }
}
