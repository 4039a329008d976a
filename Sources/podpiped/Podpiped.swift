import ArgumentParser
import Foundation
import Logging
import PodpipeCore

/// `podpiped`: the ingest daemon, or one pass with `--once` (thin over PodpipeCore).
@main
struct Podpiped: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "podpiped",
        abstract: "Ingest a drop folder of podcast event logs into bronze, silver and gold SQLite tables.",
        discussion: """
            Without --once, runs until SIGTERM or SIGINT (the file in progress is rolled back, \
            exit 0); SIGHUP reloads the configuration. Under systemd (Type=notify) it sends \
            READY=1, STATUS=, WATCHDOG=1 and STOPPING=1, and logs native journal records.

            Exit codes: 0 every file loaded, duplicate or rejected with reasons (--once), or a \
            clean stop; 1 a file failed (--once; I/O or database error, retried later); 64 usage; \
            70 database error; 75 another writer holds the database; 78 bad configuration or \
            missing drop folder.
            """)

    @Option(name: .long, help: "Configuration file (JSON). Default: $PODPIPE_CONFIG, else built-in defaults.")
    var config: String?

    @Option(name: .customLong("data-load"), help: "The drop folder to watch (overrides data_load).")
    var dataLoad: String?

    @Option(name: .long, help: "The SQLite database file (overrides database).")
    var database: String?

    @Flag(name: .long, help: "Ingest what is pending, refresh gold, and exit (for cron or a systemd timer).")
    var once = false

    @Option(name: .customLong("log-target"), help: "auto, journal or stderr (overrides log.target).")
    var logTarget: LogTarget?

    func run() async throws {
        ProcessMemory.configure()
        let overrides = PodpipeConfig.Overrides(
            configFile: config, dataLoad: dataLoad, database: database, logTarget: logTarget)
        let settings: PodpipeConfig
        do {
            settings = try await PodpipeConfig.load(overrides: overrides)
        } catch {
            // The message may quote a path or a value from the configuration: escaped.
            FileHandle.standardError.write(Data("podpiped: \(TerminalText.escape("\(error)"))\n".utf8))
            throw ExitCode(PodpipeExit.configuration)
        }
        let logger = PodpipeLogging.bootstrap(settings, label: "podpiped")
        settings.logWarnings(to: logger)
        let daemon = Daemon(config: settings, logger: logger, overrides: overrides)
        let code = once ? daemon.runOnce() : await daemon.run()
        if code != 0 { throw ExitCode(code) }
    }
}

/// `--log-target` is parsed by argument-parser: a bad value is a usage error (exit 64),
/// while the same value from the environment or the file is bad configuration (exit 78).
extension LogTarget: ExpressibleByArgument {}
