import Foundation
import GRDB
import PodpipeRules

/// Everything `podpipectl status` shows, gathered from the ledger and small tables only, so
/// that it stays fast on a database of any size (no scan of bronze or silver).
public struct StatusReport: Sendable, Codable {
    /// The daemon part (from `daemon_state`, migration 0003, and the writer lock).
    /// `state` is `running` only with a fresh heartbeat from a live process; `writer_active`
    /// says whether any writer (the daemon or a `--once` pass) holds the database now.
    struct Daemon: Sendable, Codable {
        var state: DaemonRunState
        var writerActive: Bool
        var pid: Int?
        var since: String?
        var lastHeartbeat: String?
        var host: String?
        var watchMode: String?
        var folder: String?
        var activity: String?
        var lastScan: String?
        var lastRefresh: String?
        var lastReload: String?
        var stoppedAt: String?
        var stopReason: String?
        var expected: Bool = false
        var detail: String?
        enum CodingKeys: String, CodingKey {
            case state, pid, since, host, folder, activity, expected, detail
            case writerActive = "writer_active"
            case lastHeartbeat = "last_heartbeat"
            case watchMode = "watch_mode"
            case lastScan = "last_scan"
            case lastRefresh = "last_refresh"
            case lastReload = "last_reload"
            case stoppedAt = "stopped_at"
            case stopReason = "stop_reason"
        }

        /// The daemon as recorded in `daemon_state`, judged by ``DaemonLiveness``.
        static func gather(_ record: DaemonStateRecord?, writerActive: Bool, now: Date) -> Daemon {
            let liveness = DaemonLiveness.judge(record, now: now, host: DaemonLiveness.hostName())
            var daemon = Daemon(
                state: liveness.running ? .running : .stopped, writerActive: writerActive)
            daemon.expected = liveness.expected
            daemon.detail = liveness.reason
            if let record {
                daemon.pid = Int(record.pid)
                daemon.since = record.startedAt
                daemon.lastHeartbeat = record.heartbeatAt
                daemon.host = record.host
                daemon.watchMode = record.watchMode
                daemon.folder = record.dataLoad
                daemon.activity = liveness.running ? record.activity : nil
                daemon.lastScan = record.lastScanAt
                daemon.lastRefresh = record.lastRefreshAt
                daemon.lastReload = record.lastReloadAt
                daemon.stoppedAt = record.stoppedAt
                daemon.stopReason = record.stopReason
            }
            return daemon
        }
    }
    struct Files: Sendable, Codable {
        var loaded = 0
        var rejected = 0
        var duplicate = 0
        var failed = 0
        var pending = 0
        var ignored = 0
    }
    struct Rows: Sendable, Codable {
        var bronzeEvents: Int64 = 0
        var silverEvents: Int64 = 0
        var rejectedEvents: Int64 = 0
        var duplicateEvents: Int64 = 0
        var users: Int64 = 0
        var episodes: Int64 = 0
        var bronzeReferenceRows: Int64 = 0
        var rejectedReferenceRows: Int64 = 0
        enum CodingKeys: String, CodingKey {
            case users, episodes
            case bronzeEvents = "bronze_events"
            case silverEvents = "silver_events"
            case rejectedEvents = "rejected_events"
            case duplicateEvents = "duplicate_events"
            case bronzeReferenceRows = "bronze_reference_rows"
            case rejectedReferenceRows = "rejected_reference_rows"
        }
    }
    struct Gold: Sendable, Codable {
        var refreshedAt: String?
        var stale: Bool
        var ageSeconds: Int?
        enum CodingKeys: String, CodingKey {
            case stale
            case refreshedAt = "refreshed_at"
            case ageSeconds = "age_seconds"
        }
    }
    struct FileError: Sendable, Codable {
        var file: String
        var state: String
        var line: Int64?
        var error: String
        var at: String
        /// Failed files: attempts so far and when the next one is due.
        var attempts: Int64?
        var nextAttemptAt: String?
        /// A rejected or failed file an operator acknowledged (`podpipectl ack`).
        var acknowledged: Bool?

        enum CodingKeys: String, CodingKey {
            case file, state, line, error, at, attempts, acknowledged
            case nextAttemptAt = "next_attempt_at"
        }
    }

    // MARK: After commit (`ingest.after`, issue 16)
    /// Where settled files went (the ledger's `disposal`, migration 0010) and how many
    /// committed files are still in the folder waiting to be moved or deleted.
    struct AfterCommit: Sendable, Codable {
        var mode: AfterCommitMode
        var processedDir: String?
        var rejectedDir: String?
        var movedToProcessed = 0
        var movedToRejected = 0
        var deleted = 0
        /// Files whose final entry committed and that are still in the folder (0 in keep mode).
        var waiting = 0
        enum CodingKeys: String, CodingKey {
            case mode, deleted, waiting
            case processedDir = "processed_dir"
            case rejectedDir = "rejected_dir"
            case movedToProcessed = "moved_to_processed"
            case movedToRejected = "moved_to_rejected"
        }

        static func gather(_ settings: AfterCommitSettings, _ store: some QueryRunner) throws
            -> AfterCommit
        {
            let counts = try Ledger.disposalCounts(store)
            let moving = settings.mode == .move
            return AfterCommit(
                mode: settings.mode, processedDir: moving ? settings.processedDir : nil,
                rejectedDir: moving ? settings.rejectedDir : nil,
                movedToProcessed: counts[.processed] ?? 0, movedToRejected: counts[.rejected] ?? 0,
                deleted: counts[.deleted] ?? 0)
        }

        /// `after     move · 12 to processed · 1 to rejected · 2 waiting`
        var line: String {
            var parts = ["\(mode.rawValue)"]
            if mode == .move || movedToProcessed + movedToRejected > 0 {
                parts.append("\(movedToProcessed) to processed\(processedDir.map { " (\($0))" } ?? "")")
                parts.append("\(movedToRejected) to rejected\(rejectedDir.map { " (\($0))" } ?? "")")
            }
            if mode == .delete || deleted > 0 { parts.append("\(deleted) deleted") }
            if mode != .keep { parts.append("\(waiting) waiting") }
            return "after     " + parts.joined(separator: " · ")
        }
    }
    var afterCommit: AfterCommit? = nil
    /// Health by backlog, pass age and acknowledgements (issue 16): the facts ``HealthRules``
    /// judged, for monitoring. Every time is ISO 8601 UTC, every age whole seconds.
    struct Health: Sendable, Codable {
        /// The oldest file waiting in the folder (see ``HealthRules/oldestWaiting(_:latest:)``).
        var oldestWaitingFile: String?
        var oldestWaitingSince: String?
        var oldestWaitingAgeSeconds: Int?
        var maxBacklogAgeSeconds: Int
        /// The last completed pass (daemon or `--once`); judged only while a daemon runs.
        var lastPassAt: String?
        var lastPassAgeSeconds: Int?
        var maxPassAgeSeconds: Int
        /// `rejected` / `failed` ledger rows, acknowledged (`podpipectl ack`) or not.
        var unacknowledgedRejected = 0
        var unacknowledgedFailed = 0
        var acknowledged = 0
        enum CodingKeys: String, CodingKey {
            case acknowledged
            case oldestWaitingFile = "oldest_waiting_file"
            case oldestWaitingSince = "oldest_waiting_since"
            case oldestWaitingAgeSeconds = "oldest_waiting_age_seconds"
            case maxBacklogAgeSeconds = "max_backlog_age_seconds"
            case lastPassAt = "last_pass_at"
            case lastPassAgeSeconds = "last_pass_age_seconds"
            case maxPassAgeSeconds = "max_pass_age_seconds"
            case unacknowledgedRejected = "unacknowledged_rejected"
            case unacknowledgedFailed = "unacknowledged_failed"
        }
    }

    var database: String
    /// The drop folder listed for files waiting and ignored (see ``folder(config:recorded:)``).
    var folder: String
    /// Whether ``folder`` is the configured one or the one the daemon recorded.
    var folderSource: FolderSource = .configuration
    var watchMode: String
    var daemon: Daemon
    var files: Files
    var rows: Rows
    var rejectRate: Double
    var gold: Gold
    var lastErrors: [FileError]
    var ignoredNames: [String]
    var healthy: Bool
    var problems: [String]
    var health: Health
    /// PostgreSQL only (a warehouse several hosts share): every host (``Host``); nil (no
    /// key) on SQLite.
    var hosts: [Host]? = nil

    enum CodingKeys: String, CodingKey {
        case database, folder, daemon, files, rows, gold, healthy, problems, health, hosts
        case watchMode = "watch_mode"
        case folderSource = "folder_source"
        case rejectRate = "reject_rate"
        case lastErrors = "last_errors"
        case ignoredNames = "ignored_names"
        case afterCommit = "after_commit"
    }

    /// 0 healthy, 1 degraded (``HealthRules``: unacknowledged failed or rejected files,
    /// stale gold, an old backlog, an overdue pass, no drop folder), 2 the daemon is expected
    /// (it has run here) but not running.
    public var exitCode: Int32 {
        if daemonExpectedButDown { return 2 }
        return healthy ? 0 : 1
    }
    var daemonExpectedButDown = false

    /// Where the folder status lists comes from.
    enum FolderSource: String, Sendable, Codable {
        /// A flag, the environment or the configuration file named it (or nothing did and no
        /// daemon ever recorded one: the built-in default).
        case configuration
        /// Nothing named it: the folder the running (or last) daemon recorded in
        /// `daemon_state.data_load`.
        case daemon
    }

    /// The drop folder to list: the configured one when a flag, the environment or the file
    /// gave it; else the folder the daemon recorded (`recorded`), so that `podpipectl status`
    /// run elsewhere against a daemon's database looks at the daemon's folder; else the
    /// built-in default.
    static func folder(config: PodpipeConfig, recorded: String?) -> (String, FolderSource) {
        if config.dataLoadOrigin == .builtInDefault, let recorded, !recorded.isEmpty {
            return (recorded, .daemon)
        }
        return (config.dataLoad, .configuration)
    }

    public static func gather(
        store: Store, config: PodpipeConfig, now: Date = Date()
    ) throws -> StatusReport {
        let writerActive = WriterLock.isHeld(database: config.database)
        var report = try store.pool.read { db -> StatusReport in
            let daemonRecord = try DaemonStateRecord.read(db)
            return try recorded(
                SQLiteQueries(db: db), config: config, now: now,
                daemon: Daemon.gather(daemonRecord, writerActive: writerActive, now: now),
                recordedFolder: daemonRecord?.dataLoad, goldStale: GoldRefresher.isStale(db))
        }
        report.afterCommit = try store.pool.read { db in
            try AfterCommit.gather(config.afterCommit, SQLiteQueries(db: db))
        }
        try report.judge(config: config, now: now) { _ in
            try store.pool.read { db in try Ledger.latestByName(db) }
        }
        return report
    }

    /// What the database records (ledger, silver and reference counts, gold, the last errors,
    /// acknowledgements), through the read seam: the same SQL on every engine, in one
    /// snapshot (the caller's read transaction).
    static func recorded(
        _ store: some QueryRunner, config: PodpipeConfig, now: Date, daemon: Daemon,
        recordedFolder: String?, goldStale: Bool
    ) throws -> StatusReport {
        let counts = try Ledger.counts(store)
        var files = Files()
        files.loaded = counts[.loaded] ?? 0
        files.rejected = counts[.rejected] ?? 0
        files.duplicate = counts[.duplicate] ?? 0
        files.failed = counts[.failed] ?? 0
        var rows = Rows()
        let sums = try store.table(
            """
            SELECT
              coalesce(sum(CASE WHEN kind = 'events' THEN rows_read END), 0) AS bronze,
              coalesce(sum(CASE WHEN kind = 'events' THEN rows_loaded END), 0) AS silver,
              coalesce(sum(CASE WHEN kind = 'events' THEN rows_rejected END), 0) AS rejected,
              coalesce(sum(CASE WHEN kind = 'events' THEN rows_duplicate END), 0) AS duplicate,
              coalesce(sum(CASE WHEN kind <> 'events' THEN rows_read END), 0) AS ref_bronze,
              coalesce(sum(CASE WHEN kind <> 'events' THEN rows_rejected END), 0) AS ref_rejected
            FROM ingest_file WHERE state IN ('loaded', 'rejected')
            """, [])
        if let sum = sums.rows.first, sum.count == 6 {
            // (PostgreSQL's sum of bigint is numeric: read as a real, whole.)
            func whole(_ value: ReportValue) -> Int64 {
                switch value {
                case .integer(let number): number
                case .real(let number, _): Int64(exactly: number.rounded()) ?? 0
                default: 0
                }
            }
            rows.bronzeEvents = whole(sum[0])
            rows.silverEvents = whole(sum[1])
            rows.rejectedEvents = whole(sum[2])
            rows.duplicateEvents = whole(sum[3])
            rows.bronzeReferenceRows = whole(sum[4])
            rows.rejectedReferenceRows = whole(sum[5])
        }
        rows.users = try store.scalar("SELECT count(*) FROM silver_user")?.int64Value ?? 0
        rows.episodes = try store.scalar("SELECT count(*) FROM silver_episode")?.int64Value ?? 0
        let refreshedAt = try store.pipelineState(.goldRefreshedAt)
        var age: Int?
        if let refreshedAt, let seconds = Timestamps.parse(refreshedAt) {
            age = Int(now.timeIntervalSince1970) - Int(seconds)
        }
        let acknowledged =
            try store.relationExists("ingest_ack")
            ? "state IN ('rejected', 'failed') AND \(Ledger.acknowledgedCondition)" : "(1 = 0)"
        let errors = try store.table(
            """
            SELECT name, state, first_error_line, coalesce(message, first_error, '') AS error,
                   finished_at, attempts, next_attempt_at, \(acknowledged) AS acknowledged
            FROM ingest_file AS f
            WHERE state IN ('rejected', 'failed') OR rows_rejected > 0
            ORDER BY finished_at DESC, file_id DESC LIMIT 5
            """, []
        ).rows.compactMap { row -> FileError? in
            guard row.count == 8 else { return nil }
            let state = row[1].stringValue ?? ""
            return FileError(
                file: row[0].stringValue ?? "", state: state, line: row[2].int64Value,
                error: row[3].stringValue ?? "", at: row[4].stringValue ?? "",
                attempts: state == "failed" ? row[5].int64Value : nil,
                nextAttemptAt: row[6].stringValue,
                acknowledged: row[7].int64Value == 1 ? true : nil)
        }
        let rate =
            rows.bronzeEvents > 0 ? Double(rows.rejectedEvents) / Double(rows.bronzeEvents) : 0
        let (folder, folderSource) = Self.folder(config: config, recorded: recordedFolder)
        // Health (issue 16), in the same snapshot as the counts.
        let unacknowledged = try Ledger.unacknowledgedCounts(store)
        var health = Health(maxBacklogAgeSeconds: 0, maxPassAgeSeconds: 0)
        health.unacknowledgedRejected = unacknowledged.rejected
        health.unacknowledgedFailed = unacknowledged.failed
        health.acknowledged =
            files.rejected + files.failed - unacknowledged.rejected - unacknowledged.failed
        health.lastPassAt = try store.pipelineState(.lastPassAt)
        return StatusReport(
            database: config.database, folder: folder, folderSource: folderSource,
            watchMode: config.watchMode.rawValue, daemon: daemon,
            files: files, rows: rows, rejectRate: rate,
            gold: Gold(refreshedAt: refreshedAt, stale: goldStale, ageSeconds: age),
            lastErrors: errors, ignoredNames: [], healthy: true, problems: [], health: health)
    }

    /// The folder (files waiting, ignored names) and the health rules over what was
    /// recorded. `latest`: the ledger's newest row per name of the folder it is given.
    mutating func judge(
        config: PodpipeConfig, now: Date, latest: (_ folder: String) throws -> [[UInt8]: LedgerSettlement]
    ) throws {
        // Files waiting: in the folder but not settled in the ledger.
        var facts = HealthFacts()
        if let listing = try? DropFolder.list(
            self.folder, database: config.database, selection: config.selection)
        {
            let ledger = try latest(folder)
            let pending = Ledger.unsettled(listing.candidates, latest: ledger, now: now, ignoreBackoff: true)
            self.files.pending = pending.count
            if config.afterCommit.mode != .keep {
                self.afterCommit?.waiting = Ledger.settledFinal(listing.candidates, latest: ledger).count
            }
            self.files.ignored = listing.ignored.count
            self.ignoredNames = listing.ignored.map { "\($0.name): \($0.reason)" }
            facts.oldestWaiting = HealthRules.oldestWaiting(pending, latest: ledger)
        } else {
            facts.folderMissing = self.folder
        }
        if self.daemon.state == .running, let mode = self.daemon.watchMode {
            self.watchMode = mode
        }
        self.daemonExpectedButDown = self.daemon.expected && self.daemon.state != .running
        // Health (issue 16): acknowledgements, the backlog, the last pass.
        facts.unacknowledgedRejected = self.health.unacknowledgedRejected
        facts.unacknowledgedFailed = self.health.unacknowledgedFailed
        facts.goldStale = self.gold.stale
        facts.lastPassAt = self.health.lastPassAt.flatMap(ISOTime.parse)
        facts.daemonRunning = self.daemon.state == .running
        facts.daemonStartedAt = self.daemon.since.flatMap(ISOTime.parse)
        facts.daemonExpectedButDown = self.daemonExpectedButDown
        facts.daemonDetail = self.daemon.detail
        let limits = HealthLimits(config)
        self.problems = HealthRules.problems(facts, limits: limits, now: now).map(\.message)
        self.health.oldestWaitingFile = facts.oldestWaiting?.name
        self.health.oldestWaitingSince = facts.oldestWaiting.map { ISOTime.format($0.since) }
        self.health.oldestWaitingAgeSeconds = facts.oldestWaiting.map {
            HealthRules.wholeSeconds(now.timeIntervalSince($0.since))
        }
        self.health.maxBacklogAgeSeconds = HealthRules.wholeSeconds(limits.maxBacklogAge)
        self.health.lastPassAgeSeconds = facts.lastPassAt.map {
            HealthRules.wholeSeconds(now.timeIntervalSince($0))
        }
        self.health.maxPassAgeSeconds = HealthRules.wholeSeconds(limits.maxPassAge)
        self.healthy = self.problems.isEmpty
    }

    public func json() -> String { JSONText.pretty(self) }

    /// The at-a-glance text view.
    public func text() -> String {
        var lines: [String] = []
        let health = healthy ? "healthy" : "degraded: " + problems.joined(separator: "; ")
        lines.append("podpipe  \(health)")
        lines.append(daemonLine())
        let recorded = folderSource == .daemon ? ", as the daemon recorded it" : ""
        lines.append("folder    \(folder) (watch: \(watchMode)\(recorded))")
        lines.append("database  \(database)")
        lines.append(
            "files     \(files.loaded) loaded · \(files.rejected) rejected · \(files.duplicate) duplicate · \(files.failed) failed · \(files.pending) waiting · \(files.ignored) ignored"
        )
        lines.append(
            "events    bronze \(rows.bronzeEvents) · silver \(rows.silverEvents) · rejected \(rows.rejectedEvents) · duplicates \(rows.duplicateEvents) · reject rate \(String(format: "%.2f%%", rejectRate * 100))"
        )
        lines.append(
            "reference users \(rows.users) · episodes \(rows.episodes) · rejected rows \(rows.rejectedReferenceRows)"
        )
        // Shown when files leave the folder (or did under an earlier setting).
        if let afterCommit,
            afterCommit.mode != .keep || afterCommit.movedToProcessed > 0
                || afterCommit.movedToRejected > 0 || afterCommit.deleted > 0
        {
            lines.append(afterCommit.line)
        }
        let goldLine: String
        if let refreshedAt = gold.refreshedAt {
            let age = gold.ageSeconds.map { " (\(Self.humanAge($0)) ago)" } ?? ""
            goldLine = "refreshed \(refreshedAt)\(age)\(gold.stale ? " · stale: silver changed since" : "")"
        } else {
            goldLine = "never refreshed"
        }
        lines.append("gold      \(goldLine)")
        lines.append(contentsOf: hostLines())
        lines.append("health    \(healthLine())")
        if !lastErrors.isEmpty {
            lines.append("last errors:")
            for error in lastErrors {
                let line = error.line.map { ":\($0)" } ?? ""
                var state = error.state
                if let attempts = error.attempts { state += ", attempt \(attempts)" }
                if let next = error.nextAttemptAt { state += ", next \(next)" }
                if error.acknowledged == true { state += ", acknowledged" }
                lines.append("  \(error.at)  \(error.file)\(line)  [\(state)]  \(error.error)")
            }
        }
        if !ignoredNames.isEmpty {
            lines.append("ignored:")
            for name in ignoredNames.prefix(10) { lines.append("  \(name)") }
            if ignoredNames.count > 10 { lines.append("  … and \(ignoredNames.count - 10) more") }
        }
        // Each entry is one line whose values (folder, names, errors, the daemon's activity)
        // come from input: escaped whole, so a line break inside a value shows as `\n`.
        return lines.map { TerminalText.escape($0) }.joined(separator: "\n")
    }

    /// `health    oldest waiting 3 min (limit 15 min) · last pass 20 s ago · 2 acknowledged`
    func healthLine() -> String {
        var parts: [String] = []
        let backlogLimit = Self.humanAge(health.maxBacklogAgeSeconds)
        if let age = health.oldestWaitingAgeSeconds {
            parts.append("oldest waiting \(Self.humanAge(age)) (limit \(backlogLimit))")
        } else {
            parts.append("nothing waiting")
        }
        if let age = health.lastPassAgeSeconds {
            let limit = daemon.state == .running ? " (limit \(Self.humanAge(health.maxPassAgeSeconds)))" : ""
            parts.append("last pass \(Self.humanAge(age)) ago\(limit)")
        } else {
            parts.append("no pass recorded")
        }
        if health.acknowledged > 0 { parts.append("\(health.acknowledged) acknowledged") }
        return parts.joined(separator: " · ")
    }

    /// `daemon    running (pid 42) since … · idle · 3 files loaded · last scan … · gold …`
    func daemonLine() -> String {
        var line = "daemon    \(daemon.state)"
        if daemon.state == .running {
            line += daemon.pid.map { " (pid \($0))" } ?? ""
            line += daemon.since.map { " since \($0)" } ?? ""
            if let activity = daemon.activity { line += " · \(activity)" }
            if let scan = daemon.lastScan { line += " · last scan \(scan)" }
        } else if let detail = daemon.detail, daemon.pid != nil {
            line += " (\(detail))"
        }
        if daemon.writerActive && daemon.state != .running {
            line += " · a writer (podpiped --once) holds the database"
        }
        return line
    }

    static func humanAge(_ seconds: Int) -> String {
        if seconds < 120 { return "\(seconds) s" }
        if seconds < 7200 { return "\(seconds / 60) min" }
        if seconds < 172_800 { return "\(seconds / 3600) h" }
        return "\(seconds / 86400) d"
    }
}
