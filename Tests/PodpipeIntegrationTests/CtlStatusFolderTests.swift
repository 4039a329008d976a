import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// `podpipectl status` without a folder (no --data-load, PODPIPE_DATA_LOAD or data_load in a
// config file) lists the folder the running or last daemon recorded in daemon_state.

@Suite("podpipectl status: the daemon's folder", .serialized)
struct CtlStatusFolderTests {
    /// `status --json` with only `--database` (and `env`), parsed.
    func status(_ box: Sandbox, _ extra: [String] = [], env: [String: String] = [:]) throws -> (
        Int32, [String: Any]
    ) {
        let run = try Binaries.run(
            "podpipectl", ["status", "--json", "--database", box.database] + extra, env: env)
        let json = try #require(try jsonValue(run.stdout) as? [String: Any], "\(run.stdout) \(run.stderr)")
        return (run.status, json)
    }

    @Test("without a folder given, status lists the folder the daemon recorded, running or stopped")
    func daemonFolder() throws {
        let box = try Sandbox()
        _ = try box.loadSample()
        let daemon = try RunningDaemon(box)
        // Wait for the daemon's first row in daemon_state.
        let deadline = Date().addingTimeInterval(20)
        while try box.query("SELECT count(*) FROM daemon_state WHERE state = 'running'") != 1,
            Date() < deadline
        {
            usleep(50_000)
        }
        let (code, running) = try status(box)
        #expect(running["folder"] as? String == box.dataLoad, "\(running)")
        #expect(running["folder_source"] as? String == "daemon")
        let problems = running["problems"] as? [String] ?? []
        #expect(!problems.contains { $0.contains("is missing") }, "\(problems)")
        #expect((running["daemon"] as? [String: Any])?["state"] as? String == "running")
        #expect(code != 2)
        daemon.stop()

        // Stopped: still the folder it recorded; a file dropped since waits there.
        try box.drop(
            "events-late.ndjson",
            #"{"user_id":"u1","episode_id":"e1","event_type":"pause","timestamp":"2024-04-21T09:13:28Z"}"#
                + "\n")
        let (_, stopped) = try status(box)
        #expect(stopped["folder"] as? String == box.dataLoad)
        #expect((stopped["files"] as? [String: Any])?["pending"] as? Int == 1, "\(stopped)")

        // A folder given (flag or environment) is the one listed.
        let elsewhere = box.root.appendingPathComponent("elsewhere").path
        for (extra, env) in [(["--data-load", elsewhere], [:]), ([], ["PODPIPE_DATA_LOAD": elsewhere])] {
            let (given, json) = try status(box, extra, env: env)
            #expect(json["folder"] as? String == elsewhere)
            #expect(json["folder_source"] as? String == "configuration")
            #expect((json["problems"] as? [String] ?? []).contains("drop folder \(elsewhere) is missing"))
            #expect(given == 1)
        }
    }

    @Test("the text view says the folder is the daemon's")
    func textSaysDaemon() throws {
        let box = try Sandbox()
        _ = try box.loadSample()
        let daemon = try RunningDaemon(box)
        let deadline = Date().addingTimeInterval(20)
        while try box.query("SELECT count(*) FROM daemon_state") != 1, Date() < deadline { usleep(50_000) }
        daemon.stop()
        let run = try Binaries.run("podpipectl", ["status", "--database", box.database])
        #expect(run.stdout.contains("folder    \(box.dataLoad) (watch: "), "\(run.stdout)")
        #expect(run.stdout.contains("as the daemon recorded it"), "\(run.stdout)")
        #expect(!run.stdout.contains("is missing"), "\(run.stdout)")
    }
}
