import Foundation
import PodpipeSampleData
import Testing

// `podpipectl export` against the real binaries and a database made by podpiped.

@Suite("podpipectl export")
struct CtlExportTests {
    @Test func aViewInEveryFormatMatchesTheDatabase() throws {
        let box = try Sandbox()
        let manifest = try box.loadSample()
        let events = manifest.expectedSilverEvents

        // CSV to a file: a header and one line per fact row, in the view's order.
        let file = box.root.appendingPathComponent("fact.csv").path
        let csv = try box.ctl(["export", "fact_user_interactions", "--format", "csv", "--out", file])
        #expect(csv.status == 0, "\(csv.stderr)")
        #expect(csv.stdout.isEmpty)
        let rows = csvRows(try String(contentsOfFile: file, encoding: .utf8))
        #expect(rows.count == events + 1)
        #expect(rows.first?.first == "interaction_id")
        let firstId = try box.query("SELECT min(interaction_id) FROM fact_user_interactions")
        #expect(rows.dropFirst().first?.first == firstId.map(String.init))

        // JSON on stdout (a pipe): types kept.
        let json = try box.ctl(["export", "fact_user_interactions", "--format", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        let objects = try #require(try jsonValue(json.stdout) as? [[String: Any]])
        #expect(objects.count == events)
        let pause = try #require(objects.first { $0["event_type"] as? String == "pause" })
        #expect(pause["listened_seconds"] is NSNull)
        #expect(pause["interaction_id"] is NSNumber)
        let complete = try #require(
            objects.first {
                $0["event_type"] as? String == "complete" && !($0["listen_through_rate"] is NSNull)
            })
        #expect(complete["listen_through_rate"] is NSNumber)

        // NDJSON: one object per line.
        let ndjson = try box.ctl(["export", "gold_daily_activity", "--format", "ndjson"])
        #expect(ndjson.status == 0, "\(ndjson.stderr)")
        let lines = ndjson.stdout.split(separator: "\n")
        #expect(lines.count == (try box.query("SELECT count(*) FROM gold_daily_activity")))
        for line in lines { #expect((try jsonValue(String(line))) is [String: Any]) }
    }

    @Test func sqlQueriesAreReadOnlyAndNamesAreChecked() throws {
        let box = try Sandbox()
        _ = try box.loadSample()
        let before = try sha256(ofFile: box.database)

        let query = try box.ctl([
            "export", "--sql",
            "SELECT country, count(*) AS users FROM dim_users GROUP BY country ORDER BY country",
            "--format", "csv",
        ])
        #expect(query.status == 0, "\(query.stderr)")
        let expected = try box.rows(
            "SELECT country, count(*) AS users FROM dim_users GROUP BY country ORDER BY country")
        #expect(csvRows(query.stdout).count == expected.count + 1)

        for sql in ["DELETE FROM silver_event", "SELECT 1; DELETE FROM silver_event", "DROP VIEW dim_users"] {
            let refused = try box.ctl(["export", "--sql", sql])
            #expect(refused.status != 0, "\(sql)")
        }
        #expect(try box.query("SELECT count(*) FROM silver_event") ?? 0 > 0)
        #expect(try sha256(ofFile: box.database) == before, "the database is untouched")

        let unknown = try box.ctl(["export", "gold_agg_day"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("gold_agg_day"))
        #expect(unknown.stderr.contains("fact_user_interactions"), "lists the known names")
        #expect(try box.ctl(["export"]).status == 64)
        #expect(try box.ctl(["export", "dim_users", "--sql", "SELECT 1"]).status == 64)
        #expect(try box.ctl(["export", "dim_users", "--format", "xml"]).status == 64)
    }

    @Test func textIsExactToAFile() throws {
        let box = try Sandbox()
        try box.drop(
            "episodes.csv",
            "episode_id,podcast_id,title,release_date,duration_seconds\ne1,p1,\"Bell \u{1B}[31mred, \"\"q\"\"\",2024-01-01,100\n"
        )
        try box.drop(
            "a.ndjson",
            #"{"event_type": "play", "user_id": "u1", "episode_id": "e1", "timestamp": "2024-01-02T10:00:00", "duration": 5}"#
                + "\n")
        #expect(try box.podpiped().status == 0)
        let run = try box.ctl(["export", "dim_episodes", "--format", "ndjson"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(try jsonValue(run.stdout) as? [String: Any])
        #expect(object["title"] as? String == "Bell \u{1B}[31mred, \"q\"")
    }
}
