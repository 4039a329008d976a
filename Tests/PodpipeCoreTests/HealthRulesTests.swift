import Foundation
import Testing

@testable import PodpipeCore

/// `status`'s verdict (``HealthRules``), without a disk.
@Suite("health rules")
struct HealthRulesTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let limits = HealthLimits(maxBacklogAge: 900, maxPassAge: 3600)

    func problems(_ facts: HealthFacts) -> [HealthProblem] {
        HealthRules.problems(facts, limits: Self.limits, now: Self.now)
    }

    func ago(_ seconds: Double) -> Date { Self.now.addingTimeInterval(-seconds) }

    @Test func nothingWrongIsHealthy() {
        #expect(problems(HealthFacts()).isEmpty)
    }

    @Test func onlyUnacknowledgedFailedAndRejectedFilesCount() {
        var facts = HealthFacts()
        facts.unacknowledgedFailed = 1
        facts.unacknowledgedRejected = 2
        #expect(problems(facts) == [.filesFailed(1), .filesRejected(2)])
        #expect(
            problems(facts).map(\.message) == [
                "1 file(s) failed, not acknowledged", "2 file(s) rejected, not acknowledged",
            ])
    }

    @Test func aFileWaitingLongerThanTheLimitIsABacklog() {
        var facts = HealthFacts()
        facts.oldestWaiting = WaitingFile(name: "events-1.ndjson", since: ago(900))
        #expect(problems(facts).isEmpty)  // at the limit: not yet
        facts.oldestWaiting = WaitingFile(name: "events-1.ndjson", since: ago(1200))
        #expect(problems(facts) == [.backlog(name: "events-1.ndjson", ageSeconds: 1200, limitSeconds: 900)])
        #expect(
            problems(facts).first?.message
                == "oldest waiting file events-1.ndjson has waited 20 min (limit 15 min)")
    }

    @Test func thePassAgeIsJudgedOnlyWhileADaemonRuns() {
        var facts = HealthFacts()
        facts.lastPassAt = ago(7200)
        // No daemon (a cron or timer user of --once): the schedule is not podpipe's to know.
        #expect(problems(facts).isEmpty)
        facts.daemonRunning = true
        facts.daemonStartedAt = ago(86400)
        #expect(problems(facts) == [.passOverdue(ageSeconds: 7200, limitSeconds: 3600, sinceStart: false)])
        facts.lastPassAt = ago(3000)
        #expect(problems(facts).isEmpty)
    }

    @Test func aDaemonWithoutAPassSinceItStartedIsJudgedFromItsStart() {
        var facts = HealthFacts()
        facts.daemonRunning = true
        facts.daemonStartedAt = ago(600)
        facts.lastPassAt = ago(86400)  // the previous run's
        #expect(problems(facts).isEmpty)  // a restart 10 min ago: not overdue
        facts.daemonStartedAt = ago(5000)
        #expect(problems(facts) == [.passOverdue(ageSeconds: 5000, limitSeconds: 3600, sinceStart: true)])
        facts.lastPassAt = nil  // a new database
        #expect(problems(facts) == [.passOverdue(ageSeconds: 5000, limitSeconds: 3600, sinceStart: true)])
        #expect(
            problems(facts).first?.message.hasPrefix("no completed pass since the daemon started") == true)
    }

    @Test func everyProblemIsReportedInAFixedOrder() {
        var facts = HealthFacts()
        facts.folderMissing = "/srv/in"
        facts.unacknowledgedFailed = 1
        facts.unacknowledgedRejected = 1
        facts.goldStale = true
        facts.oldestWaiting = WaitingFile(name: "a", since: ago(1000))
        facts.daemonExpectedButDown = true
        facts.daemonDetail = "pid 7 is gone"
        #expect(
            problems(facts) == [
                .folderMissing(path: "/srv/in"), .filesFailed(1), .filesRejected(1), .goldStale,
                .backlog(name: "a", ageSeconds: 1000, limitSeconds: 900),
                .daemonDown(detail: "pid 7 is gone"),
            ])
    }

    @Test func aClockFarOffCannotTrap() {
        var facts = HealthFacts()
        facts.oldestWaiting = WaitingFile(name: "a", since: Date(timeIntervalSince1970: -1e300))
        #expect(problems(facts).count == 1)
        #expect(HealthRules.wholeSeconds(.infinity) == 0)
        #expect(HealthRules.wholeSeconds(.nan) == 0)
        #expect(HealthRules.wholeSeconds(1e300) == 1_000_000_000_000_000)
    }

    func candidate(_ name: String, mtime: Int64, ctime: Int64) -> Candidate {
        Candidate(
            name: name, path: "/in/" + name, kind: .events, gzip: false, size: 1,
            mtimeNs: mtime * 1_000_000_000, changeNs: ctime * 1_000_000_000)
    }

    @Test func theOldestWaitingFileCountsFromItsArrivalAndLeavesFailedFilesOut() {
        let pending = [
            // Copied with its 2020 mtime kept: it arrived (ctime) a minute ago.
            candidate("old-mtime.ndjson", mtime: 1_577_836_800, ctime: 1_799_999_940),
            candidate("b.ndjson", mtime: 1_799_999_000, ctime: 1_799_999_000),
            // Failed, waiting for its retry: counted as a failed file instead.
            candidate("failed.ndjson", mtime: 1_700_000_000, ctime: 1_700_000_000),
        ]
        let latest: [[UInt8]: LedgerSettlement] = [
            Ledger.nameKey("failed.ndjson"): LedgerSettlement(
                state: .failed, sizeBytes: 1, mtimeNs: 1_700_000_000_000_000_000, nextAttemptAt: nil)
        ]
        let oldest = HealthRules.oldestWaiting(pending, latest: latest)
        #expect(oldest == WaitingFile(name: "b.ndjson", since: Date(timeIntervalSince1970: 1_799_999_000)))
        #expect(HealthRules.oldestWaiting([], latest: [:]) == nil)
    }

    @Test func theHealthAndMetricsKeysFollowTheConfigurationRule() throws {
        let config = try PodpipeConfig.resolve(
            environment: [
                "PODPIPE_HEALTH_MAX_BACKLOG_AGE": "600", "PODPIPE_METRICS_TEXTFILE": "m/podpipe.prom",
            ],
            file: ConfigFile.parse(
                Data(#"{"health": {"max_pass_age": 7200}, "metrics": {"textfile": "x.prom"}}"#.utf8),
                path: "/etc/podpipe/podpipe.json"),
            workingDirectory: "/srv")
        #expect(config.maxBacklogAge == 600)
        #expect(config.maxPassAge == 7200)
        #expect(config.metricsTextfile == "/srv/m/podpipe.prom")  // the environment wins
        let fromFile = try PodpipeConfig.resolve(
            environment: [:],
            file: ConfigFile.parse(
                Data(#"{"metrics": {"textfile": "x.prom"}}"#.utf8), path: "/etc/podpipe/p.json"),
            workingDirectory: "/srv")
        #expect(fromFile.metricsTextfile == "/etc/podpipe/x.prom")
        #expect(PodpipeConfig().metricsTextfile == nil)
        #expect(PodpipeConfig().maxBacklogAge == 900)
        for (key, value) in [
            ("PODPIPE_HEALTH_MAX_BACKLOG_AGE", "0"), ("PODPIPE_HEALTH_MAX_BACKLOG_AGE", "inf"),
            ("PODPIPE_HEALTH_MAX_PASS_AGE", "59"), ("PODPIPE_HEALTH_MAX_PASS_AGE", "604801"),
            ("PODPIPE_METRICS_TEXTFILE", ""),
        ] {
            #expect(throws: ConfigError.self, "\(key)=\(value)") {
                try PodpipeConfig.resolve(environment: [key: value], file: nil, workingDirectory: "/srv")
            }
        }
    }
}
