import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The writer process: takes the writer lock, opens the store, and runs passes.
/// `runOnce` is `podpiped --once`; `run` keeps going until SIGTERM/SIGINT.
public final class Daemon: Sendable {
    public let config: PodpipeConfig
    let logger: Logger
    let stop = StopFlag()

    public init(config: PodpipeConfig, logger: Logger) {
        self.config = config
        self.logger = logger
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
        let pipeline = Pipeline(
            store: store, settings: config.pipeline, logger: logger,
            shouldStop: { [stop] in stop.isSet })
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

    /// The long-running mode: a pass every rescan interval, gold on its schedule, until
    /// SIGTERM or SIGINT (the current file is finished or rolled back first).
    public func run() async -> Int32 {
        let lock: WriterLock
        let store: Store
        switch open() {
        case .success(let opened): (lock, store) = opened
        case .failure(let failure): return failure.code
        }
        defer { withExtendedLifetime(lock) {} }
        installStopSignals()
        let pipeline = Pipeline(
            store: store, settings: config.pipeline, logger: logger,
            shouldStop: { [stop] in stop.isSet })
        logger.info(
            "daemon started",
            metadata: [
                "event": "daemon_started", "folder": "\(config.dataLoad)",
                "database": "\(config.database)", "pid": "\(getpid())",
            ])
        var lastGold = Date.distantPast
        while !stop.isSet {
            do {
                _ = try pipeline.runOnce(ignoreBackoff: false, refreshGold: false)
                if Date().timeIntervalSince(lastGold) >= config.goldRefreshInterval {
                    _ = try pipeline.refreshGoldIfStale()
                    lastGold = Date()
                }
            } catch PipelineError.interrupted {
                break
            } catch {
                logger.error("pass failed: \(error); retrying", metadata: ["event": "pass_failed"])
            }
            let deadline = Date().addingTimeInterval(min(config.rescanInterval, 2))
            while Date() < deadline && !stop.isSet {
                try? await Task.sleep(nanoseconds: 100_000_000)
            }
        }
        logger.info("daemon stopping", metadata: ["event": "daemon_stopping"])
        return PodpipeExit.success
    }

    private func open() -> Result<(WriterLock, Store), OpenFailure> {
        let lock: WriterLock
        do {
            lock = try WriterLock.acquire(database: config.database)
        } catch {
            logger.error("\(error)", metadata: ["event": "writer_refused"])
            if case .anotherWriter = error { return .failure(OpenFailure(PodpipeExit.anotherWriter)) }
            return .failure(OpenFailure(PodpipeExit.databaseError))
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: config.dataLoad, isDirectory: &isDirectory),
            isDirectory.boolValue
        else {
            logger.error("\(PipelineError.dropFolderMissing(path: config.dataLoad))")
            return .failure(OpenFailure(PodpipeExit.configuration))
        }
        do {
            return .success((lock, try Store.openForWriting(path: config.database)))
        } catch {
            logger.error("cannot open the database \(config.database): \(error)")
            return .failure(OpenFailure(PodpipeExit.databaseError))
        }
    }

    private func installStopSignals() {
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [stop] in stop.set() }
            source.resume()
            stop.keep(source as AnyObject)
        }
    }
}

/// A stop request shared between signal handlers and the work loop.
public final class StopFlag: @unchecked Sendable {
    private let flag = Atomic<Bool>(false)
    // Dispatch signal sources must stay alive; only touched at installation, on one thread.
    private var sources: [AnyObject] = []

    public init() {}
    public var isSet: Bool { flag.load(ordering: .relaxed) }
    public func set() { flag.store(true, ordering: .relaxed) }
    func keep(_ source: AnyObject) { sources.append(source) }
}

struct OpenFailure: Error {
    let code: Int32
    init(_ code: Int32) { self.code = code }
}
