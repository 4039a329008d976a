import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The writer process: takes the writer lock, opens the store, and runs passes.
/// `runOnce` is `podpiped --once`; `run` is the long-running daemon (``DaemonRunner``),
/// until SIGTERM or SIGINT.
public final class Daemon: Sendable {
    let config: PodpipeConfig
    let overrides: PodpipeConfig.Overrides
    let logger: Logger

    /// - Parameter overrides: the command-line values, re-applied over the configuration
    ///   file and environment when SIGHUP reloads them.
    public init(config: PodpipeConfig, logger: Logger, overrides: PodpipeConfig.Overrides? = nil) {
        self.config = config
        self.logger = logger
        self.overrides = overrides ?? PodpipeConfig.Overrides(configFile: config.configFile)
    }

    /// One pass; returns the process exit code (see `PodpipeExit`).
    public func runOnce() -> Int32 {
        let session: any IngestWriter
        switch open() {
        case .success(let opened): session = opened
        case .failure(let failure): return failure.code
        }
        // The metrics textfile is written after the pass whatever came of it (the metrics
        // then show the failure); it never changes the exit code.
        defer { session.exportMetrics(MetricsExporter(logger: logger), config: config) }
        do {
            let summary = try session.runOnce(
                session.pipeline(config.pipeline, shouldStop: { false }), ignoreBackoff: true,
                refreshGold: true)
            try session.recordPass(at: Date())
            let loaded = summary.outcomes.filter { $0.state == .loaded }.count
            logger.info(
                "pass finished",
                metadata: LogEventKind.passFinished.metadata([
                    "files": "\(summary.outcomes.count)",
                    "loaded": "\(loaded)", "failed": "\(summary.failedCount)",
                    "gold": "\(summary.gold?.mode.rawValue ?? "unchanged")",
                ]))
            return summary.failedCount > 0 ? PodpipeExit.filesFailed : PodpipeExit.success
        } catch {
            logger.error("\(error)")
            return PodpipeExit.code(for: error)
        }
    }

    /// The long-running mode (see ``DaemonRunner``). The work runs on a thread of its own:
    /// it blocks in poll(2) and in SQLite, which must not hold a thread of Swift's
    /// cooperative pool. Returns the exit code: 0 after SIGTERM/SIGINT, 70/75/78 when it
    /// cannot start.
    public func run() async -> Int32 {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            let thread = Thread { [self] in
                continuation.resume(returning: self.runBlocking())
            }
            thread.name = "podpiped"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    func runBlocking() -> Int32 {
        let signals: DaemonSignals
        do {
            signals = try DaemonSignals()
        } catch {
            logger.critical("cannot set up signal handling: \(error)")
            return PodpipeExit.databaseError
        }
        let notifier = SystemdNotifier()
        // Signals first: a SIGTERM during start-up (opening a large database) still stops
        // cleanly instead of killing the process mid-migration.
        signals.install(logger: logger, notifier: notifier)
        let session: any IngestWriter
        switch open() {
        case .success(let opened): session = opened
        case .failure(let failure): return failure.code
        }
        let runner = DaemonRunner(
            config: config, overrides: overrides, logger: logger, session: session, signals: signals,
            notifier: notifier)
        return runner.run()
    }

    /// The writer session on the configured database (a SQLite file, or a PostgreSQL server
    /// for a `postgresql://` URI), after checking the drop folder.
    private func open() -> Result<any IngestWriter, OpenFailure> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: config.dataLoad, isDirectory: &isDirectory),
            isDirectory.boolValue
        else {
            let error = PipelineError.dropFolderMissing(path: config.dataLoad)
            logger.error(
                "\(error)", metadata: LogEventKind.folderMissing.metadata(["folder": "\(config.dataLoad)"]))
            return .failure(OpenFailure(error.exitCode))
        }
        do {
            try config.afterCommit.prepare(dropFolder: config.dataLoad)
        } catch {
            logger.error("\(error)", metadata: ["ingest_after": "\(config.afterCommit.mode.rawValue)"])
            return .failure(OpenFailure(error.exitCode))
        }
        let location = DatabaseLocation(config.database)
        do {
            switch location {
            case .sqlite:
                return .success(
                    try WriterSession.open(database: config.database, create: true, logger: logger))
            case .postgresql(let uri):
                return .success(
                    try PostgresWriterSession.open(uri: uri, dataLoad: config.dataLoad, logger: logger))
            }
        } catch let error as PipelineError {
            logger.error(
                "\(error)", metadata: LogEventKind.writerRefused.metadata(["database": "\(location.shown)"]))
            return .failure(OpenFailure(error.exitCode))
        } catch let error as PostgresWriterBusy {
            logger.error(
                "\(error)", metadata: LogEventKind.writerRefused.metadata(["database": "\(location.shown)"]))
            return .failure(OpenFailure(error.exitCode))
        } catch {
            logger.error("cannot open the database \(location.shown): \(error)")
            return .failure(OpenFailure(PodpipeExit.code(for: error)))
        }
    }
}

struct OpenFailure: Error {
    let code: Int32
    init(_ code: Int32) { self.code = code }
}
