import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `podpipectl refresh` while the daemon runs: it signals the daemon (SIGUSR1), which
/// refreshes gold long before its schedule would.
@Suite("podpipectl refresh with a running daemon")
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
        let refresh = try box.ctl(["refresh"])
        #expect(refresh.status == 0, "\(refresh.stderr)")
        #expect(refresh.stdout.contains("pid \(daemon.pid)"))
        #expect(
            eventually {
                let now = try box.query(
                    "SELECT value FROM pipeline_state WHERE key = 'gold.watermark_event_id'",
                    as: String.self)
                return now != before
            }, "\(daemon.stderr)")
        #expect(daemon.stderr.contains("gold refresh requested"))
        #expect(daemon.stop()?.status == 0)
        // With no daemon, refresh does the work itself.
        let direct = try box.ctl(["refresh", "--full"])
        #expect(direct.status == 0, "\(direct.stderr)")
    }
}
