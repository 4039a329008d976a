import Foundation
import PodpipeSampleData
import Testing

// `podpipectl report`, `status`, help and completions against the real binaries.

@Suite("podpipectl report and status")
struct CtlReportTests {
    @Test func theContractReportsAgreeWithTheOracle() throws {
        let box = try Sandbox()
        let manifest = try box.loadSample()
        let oracle = try #require(SampleDataOracle(manifest))

        let top = csvRows(try box.ctl(["report", "top-episodes", "--format", "csv"]).stdout)
        #expect(top.first == ["rank", "episode_id", "title", "podcast_id", "completions"])
        let expectedTop = oracle.topCompletedEpisodes()
        #expect(
            top.dropFirst().map { [$0[0], $0[1], $0[4]] }
                == expectedTop.map { [String($0.rank), $0.episodeId, String($0.completions)] })
        let asOf = try #require(manifest.lastEventDay)
        let topAsOf = csvRows(
            try box.ctl(["report", "top-episodes", "--as-of", asOf, "--format", "csv"]).stdout)
        #expect(topAsOf == top)

        let countries = csvRows(try box.ctl(["report", "listen-through", "--format", "csv"]).stdout)
        #expect(countries.first == ["country", "avg_listen_through_rate", "completions"])
        #expect(
            countries.dropFirst().map { $0 }
                == oracle.listenThroughByCountry().map {
                    [$0.country, String(format: "%.6f", $0.averageListenThroughRate), String($0.completions)]
                })

        let multi = oracle.multiEpisodeListeners()
        #expect(
            csvRows(try box.ctl(["report", "multi-episode-users", "--format", "csv"]).stdout) == [
                ["users"], [String(multi.users)],
            ])
        let byDay = csvRows(
            try box.ctl(["report", "multi-episode-users", "--by-day", "--format", "csv"]).stdout)
        #expect(byDay.first == ["day", "users"])
        #expect(byDay.dropFirst().map { $0 } == multi.byDay.map { [$0.day, String($0.users)] })
    }

    @Test func everyReportInEveryFormat() throws {
        let box = try Sandbox()
        _ = try box.loadSample()
        let kinds = [
            "top-episodes", "listen-through", "multi-episode-users", "cohort-retention",
            "episode-performance", "daily-activity", "engagement-by-length", "podcast-metrics",
        ]
        for kind in kinds {
            let csv = try box.ctl(["report", kind, "--format", "csv"])
            #expect(csv.status == 0, "\(kind): \(csv.stderr)")
            let rows = csvRows(csv.stdout)
            #expect(rows.count > 1, "\(kind) has rows")
            #expect(!csv.stdout.contains("\r"))
            #expect(rows.allSatisfy { $0.count == rows[0].count }, "\(kind): rectangular")

            let json = try box.ctl(["report", kind, "--format", "json"])
            let objects = try #require(try jsonValue(json.stdout) as? [[String: Any]], "\(kind)")
            #expect(objects.count == rows.count - 1, "\(kind)")
            #expect(Set(objects.first?.keys.map { $0 } ?? []) == Set(rows[0]), "\(kind)")

            let table = try box.ctl(["report", kind])
            let lines = table.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == rows.count + 1, "\(kind): header, rule, rows")
            // Aligned: the rule's dash runs mark the columns, and every header title starts
            // or ends (right-aligned numbers) at its column.
            let rule = lines[1]
            #expect(rule.allSatisfy { $0 == "-" || $0 == " " })
            #expect(lines.allSatisfy { !$0.hasSuffix(" ") })
            #expect(lines.allSatisfy { $0.count <= rule.count }, "\(kind): no cell wider than its column")
        }
    }

    @Test func statusIsHealthyOrDegradedWithItsExitCode() throws {
        let box = try Sandbox()
        // Clean data: healthy, exit 0.
        try box.drop("users.csv", "user_id,signup_date,country\nu1,2024-01-01,DE\n")
        try box.drop(
            "a.ndjson",
            #"{"event_type": "play", "user_id": "u1", "episode_id": "e1", "timestamp": "2024-01-02T10:00:00", "duration": 5}"#
                + "\n")
        #expect(try box.podpiped().status == 0)
        let healthy = try box.ctl(["status"])
        #expect(healthy.status == 0, "\(healthy.stdout)\(healthy.stderr)")
        #expect(healthy.stdout.hasPrefix("podpipe  healthy"))
        #expect(healthy.stdout.contains("daemon    stopped"))
        let json = try #require(try jsonValue(try box.ctl(["status", "--json"]).stdout) as? [String: Any])
        let files = try #require(json["files"] as? [String: Any])
        #expect(files["loaded"] as? Int == 2)
        #expect(files["pending"] as? Int == 0)
        let rows = try #require(json["rows"] as? [String: Any])
        #expect(rows["silver_events"] as? Int == 1)
        #expect(rows["users"] as? Int == 1)
        #expect((json["gold"] as? [String: Any])?["refreshed_at"] is String)
        #expect((json["daemon"] as? [String: Any])?["state"] as? String == "stopped")

        // A rejected file and a file waiting: degraded, exit 1, the error named.
        try box.drop("empty.json", "")
        #expect(try box.podpiped().status == 0)
        try box.drop("b.ndjson", "{}\n")
        let degraded = try box.ctl(["status"])
        #expect(degraded.status == 1)
        #expect(degraded.stdout.contains("1 rejected"))
        #expect(degraded.stdout.contains("1 waiting"))
        #expect(degraded.stdout.contains("empty.json"))
    }

    @Test func sharedOptionsMayComeBeforeTheCommandAsInSpec8() throws {
        let box = try Sandbox()
        let manifest = try box.loadSample()
        let before = try Binaries.run(
            "podpipectl", ["--database", box.database, "--data-load=\(box.dataLoad)", "status", "--json"])
        let after = try box.ctl(["status", "--json"])
        #expect(before.status == after.status, "\(before.stderr)")
        let rows = (try jsonValue(before.stdout) as? [String: Any])?["rows"] as? [String: Any]
        #expect(rows?["silver_events"] as? Int == manifest.expectedSilverEvents)
        let report = try Binaries.run(
            "podpipectl", ["--database", box.database, "report", "multi-episode-users", "--format", "csv"])
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.stdout == (try box.ctl(["report", "multi-episode-users", "--format", "csv"])).stdout)
        let files = try Binaries.run("podpipectl", ["--database", box.database, "files", "--limit", "1"])
        #expect(files.status == 0, "\(files.stderr)")
    }

    @Test func helpListsEveryCommandAndCompletionsAreGenerated() throws {
        let help = try Binaries.run("podpipectl", ["--help"])
        #expect(help.status == 0)
        for command in [
            "status", "files", "rejects", "report", "validate", "reprocess", "revalidate", "refresh",
            "generate", "metrics", "ack", "export",
        ] {
            #expect(help.stdout.contains("  \(command)"), "\(command)")
        }
        for shell in ["bash", "zsh", "fish"] {
            let script = try Binaries.run("podpipectl", ["--generate-completion-script", shell])
            #expect(script.status == 0, "\(shell)")
            #expect(script.stdout.contains("reprocess"), "\(shell)")
            #expect(script.stdout.contains("missing_user_id"), "\(shell): the codes of rejects --code")
        }
        // The custom completion of file names reads the ledger.
        let box = try Sandbox()
        try box.drop(
            "a.ndjson",
            #"{"event_type": "pause", "user_id": "u1", "episode_id": "e1", "timestamp": "2024-01-02T10:00:00"}"#
                + "\n")
        try box.drop(
            "abc.ndjson",
            #"{"event_type": "seek", "user_id": "u1", "episode_id": "e1", "timestamp": "2024-01-02T10:00:00"}"#
                + "\n")
        #expect(try box.podpiped().status == 0)
        // (What the generated scripts run: ---completion SUBCOMMAND -- ARGUMENT WORD-INDEX
        // CURSOR-INDEX WORDS….)
        let completion = try Binaries.run(
            "podpipectl",
            [
                "---completion", "reprocess", "--", "positional@0", "4", "2", "podpipectl", "reprocess",
                "--database", box.database, "ab",
            ])
        #expect(completion.stdout == "abc.ndjson\n", "\(completion.stdout)\(completion.stderr)")
    }
}
