import Foundation

/// What `podpipectl status` judges the pipeline's health on, gathered by ``StatusReport``
/// (from the ledger, `daemon_state`, `pipeline_state` and the folder) and given to
/// ``HealthRules``, which need no disk.
struct HealthFacts: Sendable, Equatable {
    /// The drop folder cannot be listed (its path).
    var folderMissing: String?
    /// `failed` and `rejected` ledger rows no operator acknowledged (`podpipectl ack`).
    var unacknowledgedFailed = 0
    var unacknowledgedRejected = 0
    var goldStale = false
    /// The oldest file waiting in the folder (not settled in the ledger, not a `failed`
    /// file waiting for its retry) and since when: the later of its modification and
    /// status-change times, so a file copied with its old mtime kept waits from its arrival.
    var oldestWaiting: WaitingFile?
    /// The end of the last pass that completed (the daemon's or `podpiped --once`'s).
    var lastPassAt: Date?
    /// A daemon is running now (fresh heartbeat, live pid), and since when.
    var daemonRunning = false
    var daemonStartedAt: Date?
    /// The daemon ran here and did not stop cleanly (status exits 2), and why.
    var daemonExpectedButDown = false
    var daemonDetail: String?

    init() {}
}

/// A file waiting in the drop folder, and since when.
struct WaitingFile: Sendable, Equatable {
    var name: String
    var since: Date

    init(name: String, since: Date) {
        self.name = name
        self.since = since
    }
}

/// The bounds of the time-based rules (`health.max_backlog_age`, `health.max_pass_age`).
struct HealthLimits: Sendable, Equatable {
    var maxBacklogAge: Double
    var maxPassAge: Double

    init(maxBacklogAge: Double = 900, maxPassAge: Double = 3600) {
        self.maxBacklogAge = maxBacklogAge
        self.maxPassAge = maxPassAge
    }

    init(_ config: PodpipeConfig) {
        self.init(maxBacklogAge: config.maxBacklogAge, maxPassAge: config.maxPassAge)
    }
}

/// One reason the pipeline is not healthy.
enum HealthProblem: Sendable, Equatable {
    case folderMissing(path: String)
    case filesFailed(Int)
    case filesRejected(Int)
    case goldStale
    /// The oldest waiting file has waited longer than the limit (seconds).
    case backlog(name: String, ageSeconds: Int, limitSeconds: Int)
    /// A daemon runs, but its last completed pass (nil: none since it started) is older
    /// than the limit.
    case passOverdue(ageSeconds: Int, limitSeconds: Int, sinceStart: Bool)
    case daemonDown(detail: String)

    /// The problem as `status` says it (a line of its header, an entry of `problems`).
    var message: String {
        switch self {
        case .folderMissing(let path): "drop folder \(path) is missing"
        case .filesFailed(let n): "\(n) file(s) failed, not acknowledged"
        case .filesRejected(let n): "\(n) file(s) rejected, not acknowledged"
        case .goldStale: "gold is older than silver"
        case .backlog(let name, let age, let limit):
            "oldest waiting file \(name) has waited \(StatusReport.humanAge(age)) (limit \(StatusReport.humanAge(limit)))"
        case .passOverdue(let age, let limit, let sinceStart):
            sinceStart
                ? "no completed pass since the daemon started \(StatusReport.humanAge(age)) ago (limit \(StatusReport.humanAge(limit)))"
                : "last completed pass was \(StatusReport.humanAge(age)) ago (limit \(StatusReport.humanAge(limit)))"
        case .daemonDown(let detail): "daemon not running: \(detail)"
        }
    }
}

/// The one place that decides whether the pipeline is healthy (`podpipectl status`'s exit
/// code and `healthy`, and the metric `podpipe_healthy`).
///
/// - A failed or rejected file is a problem until an operator acknowledges it
///   (`podpipectl ack`); a new version of the name that fails again is a new problem.
/// - A backlog: the oldest waiting file waited longer than `health.max_backlog_age`. A
///   stalled daemon, a stopped timer or cron job, and a file the daemon cannot settle all
///   show up here, whoever writes the database.
/// - A stuck writer: a daemon is running (its heartbeat is fresh) but its last completed
///   pass is older than `health.max_pass_age`: its passes fail (a database it cannot
///   write, a folder it cannot list) or one pass never ends. Judged only while a daemon
///   runs: `podpiped --once` under a timer or cron runs on a schedule podpipe does not
///   know, and a schedule that stopped shows as a backlog instead (and in the metric
///   `podpipe_last_pass_timestamp_seconds`, for an alert on the schedule's own period).
enum HealthRules {
    static func problems(_ facts: HealthFacts, limits: HealthLimits, now: Date) -> [HealthProblem] {
        var problems: [HealthProblem] = []
        if let path = facts.folderMissing { problems.append(.folderMissing(path: path)) }
        if facts.unacknowledgedFailed > 0 { problems.append(.filesFailed(facts.unacknowledgedFailed)) }
        if facts.unacknowledgedRejected > 0 { problems.append(.filesRejected(facts.unacknowledgedRejected)) }
        if facts.goldStale { problems.append(.goldStale) }
        if let waiting = facts.oldestWaiting {
            let age = now.timeIntervalSince(waiting.since)
            if age > limits.maxBacklogAge {
                problems.append(
                    .backlog(
                        name: waiting.name, ageSeconds: wholeSeconds(age),
                        limitSeconds: wholeSeconds(limits.maxBacklogAge)))
            }
        }
        if facts.daemonRunning {
            // Without a pass recorded since the daemon started, its start is the reference:
            // a daemon whose first pass never ends is stuck as well.
            let lastPass = facts.lastPassAt.map { pass in
                facts.daemonStartedAt.map { max(pass, $0) } ?? pass
            }
            let reference = lastPass ?? facts.daemonStartedAt
            if let reference {
                let age = now.timeIntervalSince(reference)
                let sinceStart =
                    facts.lastPassAt.map { pass in
                        facts.daemonStartedAt.map { pass < $0 } ?? false
                    } ?? true
                if age > limits.maxPassAge {
                    problems.append(
                        .passOverdue(
                            ageSeconds: wholeSeconds(age), limitSeconds: wholeSeconds(limits.maxPassAge),
                            sinceStart: sinceStart))
                }
            }
        }
        if facts.daemonExpectedButDown {
            problems.append(.daemonDown(detail: facts.daemonDetail ?? "no heartbeat"))
        }
        return problems
    }

    /// The file that has waited longest among `pending` (files in the folder the ledger has
    /// not settled), leaving out names whose newest ledger row is `failed`: those wait for
    /// their retry and count as failed files instead.
    static func oldestWaiting(_ pending: [Candidate], latest: [[UInt8]: LedgerSettlement])
        -> WaitingFile?
    {
        var oldest: (name: String, ns: Int64)?
        for candidate in pending where latest[Ledger.nameKey(candidate.name)]?.state != .failed {
            let arrived = max(candidate.mtimeNs, candidate.changeNs)
            if oldest.map({ arrived < $0.ns }) ?? true { oldest = (candidate.name, arrived) }
        }
        return oldest.map {
            WaitingFile(name: $0.name, since: Date(timeIntervalSince1970: Double($0.ns) / 1e9))
        }
    }

    /// Seconds as a whole number for messages: a clock far off cannot trap.
    static func wholeSeconds(_ seconds: Double) -> Int {
        guard seconds.isFinite else { return 0 }
        return Int(max(-1e15, min(1e15, seconds)).rounded(.down))
    }
}
