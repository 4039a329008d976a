import Foundation
import PodpipeSampleData
import Testing

/// End to end on generated dirty data: every fault kind of SPEC §2.1 (and, with
/// `faults: .seed`, only the seed sample's kinds), compared with the generator's manifest
/// (expected rows and codes) and its oracle (the three answers, computed in plain Swift from
/// the valid events it wrote).
@Suite("generated data end to end")
struct GeneratedDataTests {
    static func generate(_ box: Sandbox, spec: SampleDataSpec) throws -> SampleDataManifest {
        try SampleDataGenerator.write(spec, to: box.dataLoad)
    }

    @Test(arguments: SampleFaults.allCases)
    func everyLayerMatchesTheManifestAndTheOracle(faults: SampleFaults) throws {
        let box = try Sandbox()
        let spec = SampleDataSpec(
            seed: 7, events: 6_000, users: 120, episodes: 40, eventFiles: 5, gzipFiles: 2,
            days: 60, recordEvents: true, ledgerEdgeCases: true, faults: faults)
        let manifest = try Self.generate(box, spec: spec)
        let run = try box.podpiped()
        #expect(run.status == 0, "\(run.stderr)")

        // Ledger states, file by file.
        let states = Dictionary(
            uniqueKeysWithValues: try box.rows("SELECT name, state FROM ingest_file").map {
                (($0["name"] as String?) ?? "", ($0["state"] as String?) ?? "")
            })
        for (name, expected) in manifest.fileStates where expected != "ignored" {
            #expect(states[name] == expected, "\(name)")
        }
        for name in manifest.ignoredFiles { #expect(states[name] == nil, "\(name) is ignored") }

        // Rows per layer. Files rejected as a whole keep their lines in bronze (nothing is
        // lost), but the manifest counts the rows of loaded files only.
        let loadedBronze =
            "(SELECT b.* FROM bronze_event b JOIN ingest_file f USING (file_id) WHERE f.state = 'loaded')"
        #expect(try box.query("SELECT count(*) FROM \(loadedBronze)") == manifest.eventLines)
        #expect(try box.query("SELECT count(*) FROM silver_event") == manifest.expectedSilverEvents)
        #expect(
            try box.query("SELECT count(*) FROM \(loadedBronze) WHERE outcome = 'rejected'")
                == manifest.expectedRejectedEvents)
        #expect(
            try box.query("SELECT count(*) FROM bronze_event WHERE outcome = 'duplicate'")
                == manifest.expectedDuplicateEvents)
        #expect(try box.query("SELECT count(*) FROM silver_user") == manifest.expectedUsers)
        #expect(try box.query("SELECT count(*) FROM silver_episode") == manifest.expectedEpisodes)

        // Every code, counted.
        for (code, count) in manifest.expectedCodeCounts {
            let n = try box.query(
                "SELECT count(*) FROM \(loadedBronze) WHERE ',' || error_codes || ',' LIKE '%,\(code),%'")
            #expect(n == count, "event code \(code)")
        }
        for (code, count) in manifest.expectedReferenceRejects {
            let n = try box.query(
                "SELECT count(*) FROM bronze_reference WHERE ',' || error_codes || ',' LIKE '%,\(code),%'")
            #expect(n == count, "reference code \(code)")
        }
        // Every row's outcome, line by line.
        if let rows = manifest.rows {
            let actual = try box.rows(
                """
                SELECT f.name, b.line_no, coalesce(b.error_codes, '') AS codes, b.outcome
                FROM bronze_event b JOIN ingest_file f USING (file_id)
                """)
            var byKey: [String: (String, String)] = [:]
            for row in actual {
                let key = "\(row["name"] as String? ?? ""):\(row["line_no"] as Int? ?? 0)"
                byKey[key] = (row["codes"] ?? "", row["outcome"] ?? "")
            }
            var mismatches = 0
            for row in rows where mismatches < 5 {
                let got = byKey["\(row.file):\(row.line)"]
                let expectedOutcome =
                    !row.codes.isEmpty ? "rejected" : (row.duplicate ? "duplicate" : "silver")
                if got?.0 != row.codes.joined(separator: ",") || got?.1 != expectedOutcome {
                    mismatches += 1
                    Issue.record(
                        "\(row.file):\(row.line) expected \(row.codes) \(expectedOutcome), got \(String(describing: got))"
                    )
                }
            }
        }
        // The invariant of §4.2, per file.
        let broken = try box.query(
            """
            SELECT count(*) FROM ingest_file f
            WHERE f.state IN ('loaded', 'rejected')
              AND (f.rows_read <> f.rows_loaded + f.rows_rejected + f.rows_duplicate
                OR f.rows_read <> (SELECT count(*) FROM bronze_event b WHERE b.file_id = f.file_id)
                                 + (SELECT count(*) FROM bronze_reference r WHERE r.file_id = f.file_id))
            """)
        #expect(broken == 0)

        // The three answers, against the oracle.
        guard let oracle = SampleDataOracle(manifest) else {
            Issue.record("manifest has no recorded events")
            return
        }
        let q1 = csvRows(try box.ctl(["report", "top-episodes", "--format", "csv"]).stdout)
        let expectedTop = oracle.topCompletedEpisodes()
        #expect(q1.first == ["rank", "episode_id", "title", "podcast_id", "completions"])
        #expect(
            Array(q1.dropFirst())
                == expectedTop.map {
                    ["\($0.rank)", $0.episodeId, $0.title, $0.podcastId, "\($0.completions)"]
                })
        let q2 = csvRows(try box.ctl(["report", "listen-through", "--format", "csv"]).stdout)
        let expectedRates = oracle.listenThroughByCountry()
        #expect(q2.count == expectedRates.count + 1)
        for (row, expected) in zip(q2.dropFirst(), expectedRates) {
            #expect(row[0] == expected.country)
            #expect(abs((Double(row[1]) ?? -1) - expected.averageListenThroughRate) < 1e-6)
            #expect(row[2] == "\(expected.completions)")
        }
        let q3 = csvRows(try box.ctl(["report", "multi-episode-users", "--format", "csv"]).stdout)
        let expectedMulti = oracle.multiEpisodeListeners()
        #expect(q3 == [["users"], ["\(expectedMulti.users)"]])
        let q3days = csvRows(
            try box.ctl(["report", "multi-episode-users", "--by-day", "--format", "csv"]).stdout)
        #expect(
            Array(q3days.dropFirst()) == expectedMulti.byDay.map { [$0.day, "\($0.users)"] })
        #expect(expectedMulti.users > 0)

        // A second pass over the same folder loads nothing new.
        let filesBefore = try box.query("SELECT count(*) FROM ingest_file")
        let again = try box.podpiped()
        #expect(again.status == 0)
        #expect(try box.query("SELECT count(*) FROM ingest_file") == filesBefore)
        #expect(try box.query("SELECT count(*) FROM \(loadedBronze)") == manifest.eventLines)
    }

    @Test func asOfMovesTheTopEpisodesWindow() throws {
        let box = try Sandbox()
        let spec = SampleDataSpec(
            seed: 11, events: 3_000, users: 60, episodes: 25, eventFiles: 3, gzipFiles: 1,
            days: 40, recordEvents: true)
        let manifest = try Self.generate(box, spec: spec)
        #expect(try box.podpiped().status == 0)
        guard let oracle = SampleDataOracle(manifest) else { return }
        for asOf in ["2024-01-10", "2024-01-25"] {
            let rows = csvRows(
                try box.ctl(["report", "top-episodes", "--as-of", asOf, "--format", "csv"]).stdout)
            #expect(
                Array(rows.dropFirst())
                    == oracle.topCompletedEpisodes(asOf: asOf).map {
                        ["\($0.rank)", $0.episodeId, $0.title, $0.podcastId, "\($0.completions)"]
                    }, "as of \(asOf)")
        }
        let bad = try box.ctl(["report", "top-episodes", "--as-of", "2024-02-30"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("2024-02-30"))
    }
}
