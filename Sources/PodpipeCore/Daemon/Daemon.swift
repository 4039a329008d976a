import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The writer process: takes the writer lock, opens the store, and runs passes.
/// `runOnce` is `podpiped --once`; `run` is the long-running daemon (``DaemonRunner``),
/// until SIGTERM or SIGINT.
public final class Daemon: Sendable {
    public let config: PodpipeConfig
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
        let lock: WriterLock
        let store: Store
        switch open() {
        case .success(let opened): (lock, store) = opened
        case .failure(let failure): return failure.code
        }
        defer { withExtendedLifetime(lock) {} }
        let pipeline = Pipeline(store: store, settings: config.pipeline, logger: logger)
        do {
            let summary = try pipeline.runOnce(ignoreBackoff: true, refreshGold: true)
            let loaded = summary.outcomes.filter { $0.state == .loaded }.count
            logger.info(
                "pass finished",
                metadata: [
                    "event": "pass_finished", "files": "\(summary.outcomes.count)",
                    "loaded": "\(loaded)", "failed": "\(summary.failedCount)",
                    "gold": "\(summary.gold?.mode ?? "unchanged")",
                ])
            return summary.failedCount > 0 ? PodpipeExit.filesFailed : PodpipeExit.success
        } catch let error as PipelineError {
            logger.error("\(error)")
            switch error {
            case .dropFolderMissing, .configuration: return PodpipeExit.configuration
            case .anotherWriter: return PodpipeExit.anotherWriter
            case .interrupted: return PodpipeExit.success
            case .database: return PodpipeExit.databaseError
            }
        } catch {
            logger.error("cannot continue: \(error)")
            return PodpipeExit.databaseError
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
        let lock: WriterLock
        let store: Store
        switch open() {
        case .success(let opened): (lock, store) = opened
        case .failure(let failure): return failure.code
        }
        return withExtendedLifetime(lock) {
            let runner = DaemonRunner(
                config: config, overrides: overrides, logger: logger, store: store, signals: signals,
                notifier: notifier)
            return runner.run()
        }
    }

    private func open() -> Result<(WriterLock, Store), OpenFailure> {
        let lock: WriterLock
        do {
            lock = try WriterLock.acquire(database: config.database)
        } catch {
            logger.error("\(error)", metadata: ["event": "writer_refused", "database": "\(config.database)"])
            if case .anotherWriter = error { return .failure(OpenFailure(PodpipeExit.anotherWriter)) }
            return .failure(OpenFailure(PodpipeExit.databaseError))
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: config.dataLoad, isDirectory: &isDirectory),
            isDirectory.boolValue
        else {
            logger.error(
                "\(PipelineError.dropFolderMissing(path: config.dataLoad))",
                metadata: ["event": "folder_missing", "folder": "\(config.dataLoad)"])
            return .failure(OpenFailure(PodpipeExit.configuration))
        }
        do {
            return .success((lock, try Store.openForWriting(path: config.database)))
        } catch {
            logger.error("cannot open the database \(config.database): \(error)")
            return .failure(OpenFailure(PodpipeExit.databaseError))
        }
    }
}

struct OpenFailure: Error {
    let code: Int32
    init(_ code: Int32) { self.code = code }
}
