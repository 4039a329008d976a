import Foundation
import GRDB
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The daemon's work loop, on one thread, with the one SQLite writer connection.
///
/// ```
/// start: watch the folder (inotify) → first listing → READY=1 → ingest what is ready
/// loop:  poll(2) on [wake-up pipe, inotify fd] until the next deadline
///        SIGHUP → reload · SIGTERM/SIGINT → stop
///        watch events → a file closed or renamed in → a pass (50 ms later, to batch a burst)
///        a pass: list the folder, ledger filter, readiness (FileReadiness), ingest oldest first
///        between two files and when idle: gold if due, heartbeat if due, WATCHDOG=1, STATUS=
/// ```
///
/// Ingest and the gold refresh share the writer by taking turns: each file is one
/// transaction, the refresh is one transaction, and a refresh that falls due during a burst
/// runs between two files (it is incremental: its cost follows the new events). Neither
/// can overlap the other or itself.
///
/// Why not swift-service-lifecycle: its value is running several async services and
/// shutting them down in order on a signal. Here there is one service, its work is blocking
/// SQLite on one connection (no async I/O to gain), and the loop must wait in poll(2) on the
/// inotify fd anyway; three Dispatch signal sources and a self-pipe do the signal part
/// without another dependency to build.
final class DaemonRunner {
    private var config: PodpipeConfig
    private let overrides: PodpipeConfig.Overrides
    private let logger: Logger
    private let session: any IngestWriter
    /// Maintenance commands podpipectl hands over (run between two files); nil where the
    /// store does not serve them (PostgreSQL, for now).
    private let mailbox: MaintenanceMailbox?
    /// A handed-over command has more to do (a prune's batches): served again at the next
    /// turn, between two files or when idle.
    private var maintenanceDue = false
    /// The progress of the prunes under way, by request id.
    private var pruners: [String: BronzePruner] = [:]
    private let signals: DaemonSignals
    private let notifier: SystemdNotifier
    private var pipeline: Pipeline
    private var watcher: InotifyWatcher?
    private var readiness: FileReadiness
    private var state: DaemonStateRecord

    // Deadlines, in monotonic seconds.
    private var nextListingAt: Double = 0
    private var passRequestedAt: Double?
    private var retryPassAt: Double = 0
    private var goldDueAt: Double
    private var heartbeatDueAt: Double = 0
    /// The state row changed (a scan, a file, a refresh) since it was last written: written
    /// when the loop goes idle, at most once a second.
    private var stateDirty = false
    private var lastStateWrite: Double = 0

    private var passFailures = 0
    private var folderMissing = false
    private var lastWatchWarning: String?
    private var loggedIgnored: Set<String> = []
    private var goldRefreshedAt: Date?
    private var activity = "starting"
    /// Set when the database file was deleted or replaced: the daemon stops (exit 70).
    private var databaseLost: StoreError?
    // Health and metrics: the end of the last completed pass (written with the heartbeat),
    // and the textfile, written when a pass or a refresh changed something, at most every
    // `DaemonTiming.metricsInterval` seconds, and at least that often (ages stay fresh).
    private var lastPassAt: Date?
    /// The files waiting last recorded through ``IngestWriter/recordWaiting(_:)``.
    private var recordedWaiting: Int?
    private let metrics: MetricsExporter
    private var metricsDirty = true
    private var metricsWrittenAt: Double = -.infinity
    private var metricsCost: Double = 0

    init(
        config: PodpipeConfig, overrides: PodpipeConfig.Overrides, logger: Logger,
        session: any IngestWriter, signals: DaemonSignals, notifier: SystemdNotifier
    ) {
        self.config = config
        self.overrides = overrides
        self.logger = logger
        self.session = session
        self.mailbox = session.maintenanceMailbox(database: config.database)
        self.signals = signals
        self.notifier = notifier
        self.pipeline = Self.makePipeline(config, session: session, signals: signals, notifier: notifier)
        self.readiness = FileReadiness(mode: config.watchMode, settle: config.settle)
        let now = ISOTime.format(Date())
        self.state = DaemonStateRecord(
            state: .running, pid: Int64(getpid()), host: DaemonLiveness.hostName(), startedAt: now,
            heartbeatAt: now, heartbeatIntervalS: Int64(DaemonTiming.heartbeatInterval),
            staleAfterS: Int64(DaemonTiming.staleAfter), watchMode: config.watchMode.rawValue,
            dataLoad: config.dataLoad, configFile: config.configFile)
        self.goldDueAt = Self.clock() + config.goldRefreshInterval
        self.metrics = MetricsExporter(logger: logger)
    }

    static func makePipeline(
        _ config: PodpipeConfig, session: any IngestWriter, signals: DaemonSignals,
        notifier: SystemdNotifier
    ) -> Pipeline {
        // Called every 4,096 lines of a file: the stop check, and proof of progress for the
        // watchdog while a large file is read.
        session.pipeline(config.pipeline) { [signals, notifier] in
            notifier.watchdogPing()
            return signals.stopRequested
        }
    }

    static func clock() -> Double { Double(SystemdNotifier.monotonicMicroseconds()) / 1_000_000 }

    // MARK: - Lifecycle

    func run() -> Int32 {
        goldRefreshedAt = try? session.goldRefreshedAt().flatMap(ISOTime.parse)
        setUpWatch()
        let ready = scan()
        writeState()
        logger.info(
            "daemon started",
            metadata: LogEventKind.daemonStarted.metadata([
                "folder": "\(config.dataLoad)", "database": "\(DatabaseLocation(config.database).shown)",
                "pid": "\(getpid())", "watch_mode": "\(effectiveMode.rawValue)",
                "config": "\(config.configFile ?? "none")", "pending": "\(ready?.count ?? 0)",
            ]))
        activity = "idle"
        if !signals.stopRequested { notifier.ready(status: statusLine()) }
        // Requests handed over while no daemon ran still stand.
        do {
            try mailbox?.prepare()
        } catch {
            logger.warning(
                "cannot create \(mailbox?.directory ?? "") for the commands podpipectl hands over: \(error)",
                metadata: LogEventKind.maintenanceFailed.metadata())
        }
        serveMaintenance()
        if let ready { ingest(ready) }
        while !signals.stopRequested && databaseLost == nil {
            if signals.takeReloadRequest() { reload() }
            drainWatch()
            let now = Self.clock()
            if passIsDue(now), let ready = scan() { ingest(ready) }
            if signals.stopRequested || databaseLost != nil { break }
            housekeeping(idle: true)
            waitForWork()
        }
        if let databaseLost {
            logger.critical(
                "\(databaseLost)",
                metadata: LogEventKind.databaseLost.metadata(["database": "\(config.database)"]))
            return PodpipeExit.databaseError
        }
        return finish()
    }

    private func finish() -> Int32 {
        let name = signals.stopSignalNumber == SIGINT ? "SIGINT" : "SIGTERM"
        state.state = .stopped
        state.stoppedAt = ISOTime.format(Date())
        state.stopReason = name
        state.cleanStop = true
        state.activity = "stopped"
        writeState()
        session.exportMetrics(metrics, config: config)  // podpipe_daemon_up 0
        logger.info(
            "daemon stopped",
            metadata: LogEventKind.daemonStopped.metadata([
                "signal": "\(name)", "loaded": "\(state.filesLoaded)",
                "failed": "\(state.filesFailed)",
            ]))
        return PodpipeExit.success
    }

    // MARK: - Watching

    private var effectiveMode: WatchMode {
        config.watchMode == .inotify && watcher?.isWatching == true ? .inotify : .poll
    }

    /// Creates the inotify watch when the mode asks for it (again after the folder came
    /// back, or after a reload). Falls back to polling, loudly, when inotify cannot be had.
    private func setUpWatch() {
        // watch.recursive polls: inotify watches one folder, and date-partitioned drops
        // create new sub-folders all the time (each would need a watch of its own).
        guard config.watchMode == .inotify, !config.selection.recursive else {
            watcher = nil
            readiness.mode = .poll
            return
        }
        if watcher?.isWatching == true { return }
        do {
            let active: InotifyWatcher
            if let existing = watcher { active = existing } else { active = try InotifyWatcher() }
            watcher = active
            try active.watch(config.dataLoad)
            readiness.mode = .inotify
            // Anything that happened before the watch existed is unknown: settle it.
            readiness.forgetWatchState()
            lastWatchWarning = nil
        } catch {
            readiness.mode = .poll
            // Said once per distinct reason; retried at every listing.
            if !folderMissing && lastWatchWarning != error.description {
                logger.warning(
                    "\(error)",
                    metadata: LogEventKind.watchDegraded.metadata(["folder": "\(config.dataLoad)"]))
                lastWatchWarning = error.description
            }
        }
        state.watchMode = effectiveMode.rawValue
    }

    private func drainWatch() {
        guard let watcher else { return }
        for event in watcher.drain() {
            switch event {
            case .overflow:
                logger.warning(
                    "inotify queue overflowed: events were lost, rescanning the folder",
                    metadata: LogEventKind.watchOverflow.metadata(["folder": "\(config.dataLoad)"]))
                requestPass(after: 0)
            case .folderGone:
                logger.error(
                    "the drop folder was removed or moved; watching again when it is back",
                    metadata: LogEventKind.folderMissing.metadata(["folder": "\(config.dataLoad)"]))
                folderMissing = true
                requestPass(after: 0)
            case .created:
                // A hard link or a writer starting: look again once it could have settled.
                requestPass(after: readiness.settle + 0.05)
            default:
                break
            }
            if readiness.apply(event) { requestPass(after: 0.05) }
        }
        state.watchMode = effectiveMode.rawValue
    }

    private func requestPass(after delay: Double) {
        let at = Self.clock() + delay
        passRequestedAt = min(passRequestedAt ?? at, at)
    }

    private func passIsDue(_ now: Double) -> Bool {
        guard now >= retryPassAt else { return false }
        if now >= nextListingAt { return true }
        if let requested = passRequestedAt, now >= requested { return true }
        if let settle = readiness.nextSettleDeadline(now: now - 0.001), now >= settle { return true }
        return false
    }

    private var listingInterval: Double {
        effectiveMode == .inotify
            ? config.rescanInterval
            : DaemonTiming.pollInterval(rescan: config.rescanInterval, settle: config.settle)
    }

    // MARK: - Passes

    /// Lists the folder and returns the files to ingest now, oldest first (nil when the
    /// folder or the ledger could not be read).
    private func scan() -> [Candidate]? {
        passRequestedAt = nil
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: config.dataLoad, isDirectory: &isDirectory),
            isDirectory.boolValue
        {
            // Watch before listing: a file created after the listing is then an event.
            setUpWatch()
        }
        nextListingAt = Self.clock() + listingInterval
        let listing: FolderListing
        do {
            listing = try DropFolder.list(
                config.dataLoad, database: config.database, selection: config.selection)
        } catch {
            if !folderMissing {
                logger.error(
                    "\(error)",
                    metadata: LogEventKind.folderMissing.metadata(["folder": "\(config.dataLoad)"]))
            }
            folderMissing = true
            watcher?.unwatch()
            activity = "waiting for the drop folder \(config.dataLoad)"
            return nil
        }
        if folderMissing {
            logger.notice("the drop folder is back", metadata: ["folder": "\(config.dataLoad)"])
            folderMissing = false
            activity = "idle"
        }
        let pending: [Candidate]
        do {
            pending = try pipeline.pending(in: listing, now: Date(), ignoreBackoff: false)
        } catch {
            passFailed(error)
            return nil
        }
        let now = Self.clock()
        if pending.count != recordedWaiting {
            // For other hosts' `podpipectl status` (a warehouse); a failure waits for the next listing.
            if (try? session.recordWaiting(pending.count)) != nil { recordedWaiting = pending.count }
        }
        readiness.observe(present: listing.candidates.map(\.name), pending: pending, now: now)
        noteIgnored(listing.ignored)
        // Written with the next heartbeat (a scan that finds nothing is not worth a write).
        state.lastScanAt = ISOTime.format(Date())
        let ready = pending.filter { readiness.isReady($0, now: now) }
        // A file that is still settling is looked at again when it has settled, not at the
        // next full listing (passIsDue no longer sees a settle deadline once it has passed).
        if let settled = readiness.nextSettleDeadline(now: now) { requestPass(after: settled - now + 0.005) }
        scheduleRetry()
        logger.debug(
            "folder listed",
            metadata: LogEventKind.folderListed.metadata([
                "files": "\(listing.candidates.count)",
                "pending": "\(pending.count)",
                "ready": "\(ready.count)", "ignored": "\(listing.ignored.count)",
                "being_written": "\(readiness.namesBeingWritten.count)",
            ]))
        return ready
    }

    private func ingest(_ ready: [Candidate]) {
        // A parse begun ahead for a file this pass does not reach is stopped with it.
        defer { pipeline.endPass() }
        var next = ready.startIndex
        while next < ready.endIndex {
            if signals.stopRequested { return }
            let candidate = ready[next]
            activity = "ingesting \(candidate.name) (\(next + 1) of \(ready.count))"
            notifier.status(statusLine())
            do {
                // Files waiting together share a transaction (a group commit); the work
                // between files (gold, maintenance, the heartbeat) runs between groups.
                let group = try pipeline.ingestGroup(ready[next...])
                let failed = Set(group.outcomes.filter { $0.state == .failed }.map(\.name))
                for outcome in group.outcomes {
                    switch outcome.state {
                    case .loaded: state.filesLoaded += 1
                    case .rejected: state.filesRejected += 1
                    case .duplicate: state.filesDuplicate += 1
                    case .failed: state.filesFailed += 1
                    }
                }
                for consumed in ready[next..<(next + group.consumed)] where !failed.contains(consumed.name) {
                    readiness.consumed(consumed.name)
                }
                next += group.consumed
                passFailures = 0
                stateDirty = true
            } catch PipelineError.interrupted {
                logger.notice(
                    "\(PipelineError.interrupted)",
                    metadata: LogEventKind.fileInterrupted.metadata(["file": "\(candidate.name)"]))
                return
            } catch {
                passFailed(error)
                return
            }
            drainWatch()
            housekeeping()
        }
        activity = "idle"
        lastPassAt = Date()
        if !ready.isEmpty { metricsDirty = true }
        scheduleRetry()
    }

    /// Asks for a pass when the earliest `failed` file falls due, so that it is retried when
    /// its backoff ends rather than at the next full rescan.
    private func scheduleRetry() {
        guard let text = try? session.nextRetryAt(), let due = ISOTime.parse(text)
        else { return }
        let delay = due.timeIntervalSinceNow
        // A due time already past was seen by the listing that just ran (the file is not
        // ready, or gone): the normal listings cover it.
        if delay > 0 { requestPass(after: delay + 0.05) }
    }

    private func passFailed(_ error: any Error) {
        if let lost = error as? StoreError, case .databaseGone = lost {
            databaseLost = lost
            return
        }
        passFailures += 1
        let delay = DaemonTiming.passRetryDelay(failures: passFailures)
        retryPassAt = Self.clock() + delay
        activity = "degraded: \(error)"
        logger.error(
            "pass failed, retrying in \(Int(delay)) s: \(error)",
            metadata: LogEventKind.passFailed.metadata(["failures": "\(passFailures)"]))
    }

    private func noteIgnored(_ ignored: [(name: String, reason: String)]) {
        let names = Set(ignored.map(\.name))
        for (name, reason) in ignored where !loggedIgnored.contains(name) {
            logger.info(
                "ignored: \(reason)",
                metadata: LogEventKind.fileIgnored.metadata(["file": "\(name)", "reason": "\(reason)"]))
        }
        loggedIgnored = names
    }

    // MARK: - Gold, heartbeat, watchdog, status

    /// The periodic work, between two files and when idle.
    private func housekeeping(idle: Bool = false) {
        if signals.takeRefreshRequest() {
            logger.info(
                "gold refresh requested (SIGUSR1)", metadata: LogEventKind.goldRefreshRequested.metadata())
            goldDueAt = 0
            serveMaintenance()
        } else if maintenanceDue {
            serveMaintenance()
        }
        let now = Self.clock()
        if now >= goldDueAt { refreshGold() }
        let later = Self.clock()
        if later >= heartbeatDueAt || (idle && stateDirty && later - lastStateWrite >= 1) { writeState() }
        if config.metricsTextfile != nil, Self.clock() >= metricsDueAt {
            let started = Self.clock()
            session.exportMetrics(metrics, config: config)
            metricsWrittenAt = Self.clock()
            metricsCost = metricsWrittenAt - started
            metricsDirty = false
        }
        notifier.watchdogPing()
        notifier.status(statusLine())
    }

    private func refreshGold() {
        let previous = activity
        activity = "refreshing gold"
        notifier.status(statusLine())
        do {
            if try session.refreshGoldIfStale(force: false) != nil {
                goldRefreshedAt = Date()
                state.lastRefreshAt = ISOTime.format(Date())
                stateDirty = true
                metricsDirty = true
            }
            goldDueAt = Self.clock() + config.goldRefreshInterval
        } catch {
            let delay = DaemonTiming.goldRetryDelay(interval: config.goldRefreshInterval)
            goldDueAt = Self.clock() + delay
            logger.error(
                "gold refresh failed, retrying in \(Int(delay)) s: \(error)",
                metadata: LogEventKind.goldRefreshFailed.metadata())
        }
        activity = previous
    }

    /// Runs the maintenance commands podpipectl handed over (``MaintenanceMailbox``), oldest
    /// first, each as podpipectl would run it itself, and answers each with its result.
    private func serveMaintenance() {
        maintenanceDue = false
        guard let mailbox else { return }
        mailbox.removeResults(olderThan: 86_400)
        for (id, command) in mailbox.pending() {
            if signals.stopRequested { return }
            let previous = activity
            activity = "running podpipectl \(command.name)"
            notifier.status(statusLine())
            defer { activity = previous }
            let result: MaintenanceResult
            do {
                var pruner = pruners[id]
                // A turn of at most a second: the files waiting are not held up for long.
                guard
                    let finished = try session.runMaintenance(
                        command, now: Date(), pruner: &pruner, budget: DaemonTiming.maintenanceTurn)
                else {
                    pruners[id] = pruner
                    maintenanceDue = true
                    return
                }
                pruners[id] = nil
                result = finished
                logger.info(
                    "podpipectl \(command.name) done",
                    metadata: LogEventKind.maintenanceRun.metadata([
                        "command": "\(command.name)", "request": "\(id)",
                    ]))
            } catch {
                pruners[id] = nil
                result = MaintenanceResult(failure: error)
                logger.error(
                    "podpipectl \(command.name) failed: \(error)",
                    metadata: LogEventKind.maintenanceFailed.metadata([
                        "command": "\(command.name)", "request": "\(id)",
                    ]))
                if let lost = error as? StoreError, case .databaseGone = lost { databaseLost = lost }
            }
            do {
                try mailbox.answer(id, result)
            } catch {
                logger.warning(
                    "cannot answer podpipectl \(command.name): \(error)",
                    metadata: LogEventKind.maintenanceFailed.metadata(["request": "\(id)"]))
            }
            if command.asksForAPass { requestPass(after: 0) }
            if let refreshed = try? session.goldRefreshedAt() {
                state.lastRefreshAt = refreshed
                goldRefreshedAt = ISOTime.parse(refreshed)
            }
            stateDirty = true
        }
    }

    private func statusLine() -> String {
        DaemonStatusLine.render(
            activity: activity, loaded: state.filesLoaded, failed: state.filesFailed,
            goldRefreshedAt: goldRefreshedAt, now: Date())
    }

    /// Writes the heartbeat row (a small transaction of its own, between two files).
    private func writeState() {
        lastStateWrite = Self.clock()
        heartbeatDueAt = lastStateWrite + DaemonTiming.heartbeatInterval
        stateDirty = false
        state.heartbeatAt = ISOTime.format(Date())
        if state.state == .running { state.activity = statusLine() }
        let record = state
        let pass = lastPassAt.map { ISOTime.format($0) }
        do {
            try session.writeDaemonState(record, lastPass: pass)
        } catch {
            logger.warning(
                "cannot record the daemon's heartbeat: \(error)",
                metadata: LogEventKind.heartbeatFailed.metadata())
        }
    }

    /// When the metrics textfile is next written (``DaemonTiming/metricsDelay(dirty:lastCost:)``).
    private var metricsDueAt: Double {
        metricsWrittenAt + DaemonTiming.metricsDelay(dirty: metricsDirty, lastCost: metricsCost)
    }

    // MARK: - Waiting

    /// Sleeps in poll(2) until a deadline, a watch event or a signal.
    private func waitForWork() {
        let now = Self.clock()
        var passAt = nextListingAt
        if let requested = passRequestedAt { passAt = min(passAt, requested) }
        if let settle = readiness.nextSettleDeadline(now: now) { passAt = min(passAt, settle + 0.005) }
        var next = max(passAt, retryPassAt)
        next = min(next, goldDueAt, heartbeatDueAt)
        if stateDirty { next = min(next, lastStateWrite + 1) }
        if maintenanceDue { next = now }
        if config.metricsTextfile != nil { next = min(next, metricsDueAt) }
        if let ping = notifier.secondsUntilWatchdogPing() { next = min(next, now + ping) }
        let timeout = Int32(min(60_000, max(0, ((next - now) * 1000).rounded(.up))))
        var fds = [pollfd(fd: signals.wakeFD, events: Int16(POLLIN), revents: 0)]
        if let watcher, watcher.isWatching {
            fds.append(pollfd(fd: watcher.fd, events: Int16(POLLIN), revents: 0))
        }
        _ = poll(&fds, nfds_t(fds.count), timeout)
        signals.drainWakeups()
    }

    // MARK: - Reload

    /// SIGHUP: reads the configuration again (file, environment, the original flags) and
    /// applies it. The database cannot change without a restart (the writer lock is per
    /// database); a configuration that does not load leaves the current one in force.
    private func reload() {
        notifier.reloading()
        let result = Self.loadConfiguration(overrides)
        var next: PodpipeConfig
        switch result {
        case .success(let loaded):
            next = loaded
            next.logWarnings(to: logger)
        case .failure(let error):
            logger.error("\(error)", metadata: LogEventKind.reloadFailed.metadata())
            notifier.ready(status: statusLine())
            return
        }
        if config.databaseIsPostgreSQL && next.dataLoad != config.dataLoad {
            // On PostgreSQL the writer lock, the ledger's names and the daemon's row are per
            // (host, drop folder), all taken at start: a new folder needs a restart.
            logger.warning(
                "the drop folder cannot change while running on PostgreSQL (the writer lock and the ledger's names are per host and folder): keeping \(TerminalText.escape(config.dataLoad)); restart podpiped to use \(TerminalText.escape(next.dataLoad))",
                metadata: LogEventKind.reloadFailed.metadata(["folder": "\(next.dataLoad)"]))
            next.dataLoad = config.dataLoad
        }
        if next.afterCommit != config.afterCommit || folderChangedBy(next) {
            do {
                try next.afterCommit.prepare(dropFolder: next.dataLoad)
            } catch {
                logger.error(
                    "\(error); keeping the running configuration",
                    metadata: LogEventKind.reloadFailed.metadata())
                notifier.ready(status: statusLine())
                return
            }
        }
        if next.database != config.database {
            logger.warning(
                "the database cannot change while running (it needs the writer lock): keeping \(DatabaseLocation(config.database).shown); restart podpiped to use \(DatabaseLocation(next.database).shown)",
                metadata: LogEventKind.reloadFailed.metadata([
                    "database": "\(DatabaseLocation(next.database).shown)"
                ]))
            next.database = config.database
        }
        let changed = Self.changedKeys(from: config, to: next)
        let folderChanged = next.dataLoad != config.dataLoad
        let watchChanged =
            next.watchMode != config.watchMode || folderChanged
            || next.selection.recursive != config.selection.recursive
        let previousGoldInterval = config.goldRefreshInterval
        config = next
        PodpipeLogging.control?.apply(next)
        if next.pipeline != pipeline.settings {
            pipeline = Self.makePipeline(next, session: session, signals: signals, notifier: notifier)
        }
        readiness.settle = max(0, next.settle)
        if watchChanged {
            watcher?.unwatch()
            if next.watchMode == .poll { watcher = nil }
            readiness = FileReadiness(mode: next.watchMode, settle: next.settle)
            folderMissing = false
            setUpWatch()
        }
        if next.goldRefreshInterval != previousGoldInterval {
            goldDueAt = min(goldDueAt, Self.clock() + next.goldRefreshInterval)
        }
        state.dataLoad = next.dataLoad
        state.configFile = next.configFile
        state.watchMode = effectiveMode.rawValue
        state.lastReloadAt = ISOTime.format(Date())
        writeState()
        requestPass(after: 0)
        logger.notice(
            "configuration reloaded",
            metadata: LogEventKind.daemonReloaded.metadata([
                "changed": "\(changed.isEmpty ? "nothing" : changed.joined(separator: ","))",
                "config": "\(next.configFile ?? "none")", "watch_mode": "\(effectiveMode.rawValue)",
                "folder": "\(next.dataLoad)",
            ]))
        notifier.ready(status: statusLine())
    }

    private func folderChangedBy(_ next: PodpipeConfig) -> Bool { next.dataLoad != config.dataLoad }

    static func changedKeys(from old: PodpipeConfig, to new: PodpipeConfig) -> [String] {
        var keys: [String] = []
        if old.dataLoad != new.dataLoad { keys.append("data_load") }
        if old.watchMode != new.watchMode { keys.append("watch.mode") }
        if old.rescanInterval != new.rescanInterval { keys.append("watch.rescan_interval") }
        if old.settle != new.settle { keys.append("watch.settle") }
        if old.goldRefreshInterval != new.goldRefreshInterval { keys.append("gold.refresh_interval") }
        if old.futureSkew != new.futureSkew { keys.append("validation.future_skew") }
        if old.maxLineBytes != new.maxLineBytes { keys.append("ingest.max_line_bytes") }
        if old.retryBackoff != new.retryBackoff { keys.append("ingest.retry_backoff") }
        if old.groupSeconds != new.groupSeconds { keys.append("ingest.group_seconds") }
        if old.logTarget != new.logTarget { keys.append("log.target") }
        if old.logLevel != new.logLevel { keys.append("log.level") }
        if old.afterCommit.mode != new.afterCommit.mode { keys.append("ingest.after") }
        if old.afterCommit.processedDir != new.afterCommit.processedDir {
            keys.append("ingest.processed_dir")
        }
        if old.afterCommit.rejectedDir != new.afterCommit.rejectedDir { keys.append("ingest.rejected_dir") }
        if old.selection.include != new.selection.include { keys.append("watch.include") }
        if old.selection.exclude != new.selection.exclude { keys.append("watch.exclude") }
        if old.selection.recursive != new.selection.recursive { keys.append("watch.recursive") }
        if old.maxBacklogAge != new.maxBacklogAge { keys.append("health.max_backlog_age") }
        if old.maxPassAge != new.maxPassAge { keys.append("health.max_pass_age") }
        if old.metricsTextfile != new.metricsTextfile { keys.append("metrics.textfile") }
        return keys
    }

    /// Runs the async configuration loader from this (non-pool) thread and waits for it.
    static func loadConfiguration(_ overrides: PodpipeConfig.Overrides) -> Result<PodpipeConfig, DaemonError>
    {
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do {
                let loaded = try await PodpipeConfig.load(overrides: overrides)
                box.set(.success(loaded))
            } catch {
                box.set(.failure(.reload(message: "\(error)")))
            }
            done.signal()
        }
        done.wait()
        return box.get() ?? .failure(.reload(message: "the configuration loader did not answer"))
    }
}

private final class ResultBox: Sendable {
    private let value = Mutex<Result<PodpipeConfig, DaemonError>?>(nil)
    func set(_ result: Result<PodpipeConfig, DaemonError>) { value.withLock { $0 = result } }
    func get() -> Result<PodpipeConfig, DaemonError>? { value.withLock { $0 } }
}
