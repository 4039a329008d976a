import Foundation
import Testing

@testable import PodpipeCore

#if canImport(Glibc)
    import Glibc
#endif

/// `podpipectl refresh`, `reprocess` and `revalidate` while the daemon runs: handed to the
/// daemon (a request file and SIGUSR1), which runs them between two files and answers;
/// podpipectl prints the answer.
@Suite("maintenance handed to a running daemon")
struct DaemonRefreshTests {
    @Test func refreshAsksTheRunningDaemonToRefreshGoldNow() throws {
        let box = try Sandbox()
        // First pass with --once so that gold exists; then the daemon, whose schedule is
        // an hour away.
        try box.drop("a.ndjson", eventLines(20, seed: 1))
        #expect(try box.podpiped().status == 0)
        let before = try box.query(
            "SELECT value FROM pipeline_state WHERE key = 'gold.watermark_event_id'", as: String.self)
        let daemon = try DaemonProcess(
            box: box,
            env: [
                "PODPIPE_WATCH_RESCAN_INTERVAL": "1", "PODPIPE_WATCH_SETTLE": "0",
                "PODPIPE_GOLD_REFRESH_INTERVAL": "3600",
            ])
        #expect(daemon.waitReady(), "\(daemon.stderr)")
        try box.drop("b.ndjson", eventLines(30, seed: 2))
        #expect(eventually { box.isRecorded("b.ndjson") }, "\(daemon.stderr)")
        // Not refreshed by the schedule.
        let stale = try box.query(
            "SELECT value FROM pipeline_state WHERE key = 'gold.watermark_event_id'", as: String.self)
        #expect(stale == before)
        // refresh waits for the daemon's answer: gold is current when it returns.
        let refresh = try box.ctl(["refresh", "--json"])
        #expect(refresh.status == 0, "\(refresh.stderr)")
        let answer = try #require(try jsonValue(refresh.stdout) as? [String: Any])
        #expect(answer["mode"] as? String == "incremental", "\(refresh.stdout)")
        #expect(answer["new_events"] as? Int == 30)
        let now = try box.query(
            "SELECT value FROM pipeline_state WHERE key = 'gold.watermark_event_id'", as: String.self)
        #expect(now != before)
        #expect(now == (answer["watermark_event_id"] as? Int).map(String.init))
        #expect(daemon.stderr.contains("gold refresh requested"))
        #expect(daemon.stderr.contains("podpipectl refresh done"))
        #expect(daemon.stop()?.status == 0)
        // With no daemon, refresh does the work itself.
        let direct = try box.ctl(["refresh", "--full"])
        #expect(direct.status == 0, "\(direct.stderr)")
    }

    @Test func reprocessRevalidateAndFullRefreshAreRunByTheDaemon() throws {
        let box = try Sandbox()
        try box.drop("a.ndjson", eventLines(20, seed: 1))
        try box.drop("b.ndjson", eventLines(30, seed: 2))
        #expect(try box.podpiped().status == 0)
        let silver = try box.silverSnapshot()
        let daemon = try DaemonProcess(
            box: box,
            env: [
                "PODPIPE_WATCH_RESCAN_INTERVAL": "1", "PODPIPE_WATCH_SETTLE": "0",
                "PODPIPE_GOLD_REFRESH_INTERVAL": "3600",
            ])
        defer { _ = daemon.stop() }
        #expect(daemon.waitReady(), "\(daemon.stderr)")

        // reprocess: forgotten by the daemon, then loaded again by its next pass.
        let firstId = try box.query("SELECT file_id FROM ingest_file WHERE name = 'a.ndjson'", as: Int64.self)
        let reprocess = try box.ctl(["reprocess", "a.ndjson"])
        #expect(reprocess.status == 0, "\(reprocess.stderr)")
        #expect(reprocess.stdout.contains("forgot:"), "\(reprocess.stdout)")
        #expect(
            eventually {
                let id = try box.query(
                    "SELECT file_id FROM ingest_file WHERE name = 'a.ndjson' AND state = 'loaded'",
                    as: Int64.self)
                return id != nil && id != firstId
            }, "\(daemon.stderr)")
        #expect(try box.silverSnapshot() == silver)

        // An unknown name: the daemon's answer is the error, with its exit code.
        let unknown = try box.ctl(["reprocess", "nope.ndjson"])
        #expect(unknown.status == 1, "\(unknown.stdout)")
        #expect(unknown.stderr.contains("not in the ledger: nope.ndjson"))

        // revalidate (a dry run, then for real) and a full refresh, each answered.
        let dry = try box.ctl(["revalidate", "--dry-run", "--json"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect((try jsonValue(dry.stdout) as? [String: Any])?["dry_run"] as? Bool == true, "\(dry.stdout)")
        let revalidate = try box.ctl(["revalidate"])
        #expect(revalidate.status == 0, "\(revalidate.stderr)")
        let full = try box.ctl(["refresh", "--full", "--json"])
        #expect(full.status == 0, "\(full.stderr)")
        #expect(
            (try jsonValue(full.stdout) as? [String: Any])?["mode"] as? String == "full", "\(full.stdout)")

        // prune: in turns between files; silver and gold stay, bronze keeps rejected rows only.
        // The ledger's times have whole seconds and "before 0s" is strict, so a file reloaded
        // in this very second is rightly kept: wait for the clock to pass the newest load.
        let newest = try box.query("SELECT max(finished_at) FROM ingest_file", as: String.self) ?? ""
        #expect(eventually(timeout: 5) { ISOTime.format(Date()) > newest }, "\(newest)")
        let goldBefore = try box.goldSnapshot()
        let prune = try box.ctl(["prune", "--bronze-before", "0s", "--json"])
        #expect(prune.status == 0, "\(prune.stderr)")
        let pruned = try #require(try jsonValue(prune.stdout) as? [String: Any])
        #expect(pruned["files"] as? Int == 2, "\(prune.stdout)")
        #expect(try box.query("SELECT count(*) FROM bronze_event WHERE outcome <> 'rejected'") == 0)
        #expect(try box.silverSnapshot() == silver)
        #expect(try box.goldSnapshot() == goldBefore)
        #expect(try box.query("SELECT count(*) FROM ingest_file WHERE bronze_pruned_at IS NOT NULL") == 2)

        // --no-wait returns at once with the request's id; the daemon still runs it.
        let noWait = try box.ctl(["refresh", "--full", "--no-wait", "--json"])
        #expect(noWait.status == 0, "\(noWait.stderr)")
        let handed = try #require(try jsonValue(noWait.stdout) as? [String: Any])
        #expect(handed["signalled_daemon"] as? Int == Int(daemon.pid))
        let request = try #require(handed["request"] as? String)
        let mailbox = box.database + ".requests"
        #expect(
            eventually { FileManager.default.fileExists(atPath: "\(mailbox)/\(request).result") },
            "\(daemon.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(mailbox)/\(request).request"))
        #expect(daemon.stop()?.status == 0)
    }
}
