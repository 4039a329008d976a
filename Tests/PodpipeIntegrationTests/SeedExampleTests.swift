import Foundation
import Testing

/// The real sample of `../shared/data/seed-example` (outside the repository: present on the
/// developers' machines and in CI beside the clone; the test is skipped elsewhere).
let seedExample: String? = {
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    let dir = repo.deletingLastPathComponent().appendingPathComponent("shared/data/seed-example")
    return FileManager.default.fileExists(atPath: dir.appendingPathComponent("event_logs.json").path)
        ? dir.path : nil
}()

@Suite("seed example")
struct SeedExampleTests {
    @Test(.enabled(if: seedExample != nil, "../shared/data/seed-example is not present"))
    func seedExampleLoadsWithTheKnownCountsAndAnswers() throws {
        let box = try Sandbox()
        guard let seed = seedExample else { return }
        for name in ["episodes.csv", "users.csv", "event_logs.json"] {
            try FileManager.default.copyItem(atPath: seed + "/" + name, toPath: box.dataLoad + "/" + name)
        }
        let run = try box.podpiped()
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try box.query("SELECT count(*) FROM bronze_event") == 5000)
        #expect(try box.query("SELECT count(*) FROM silver_event") == 4845)
        #expect(try box.query("SELECT count(*) FROM bronze_event WHERE outcome = 'rejected'") == 155)
        #expect(try box.query("SELECT count(*) FROM bronze_event WHERE outcome = 'duplicate'") == 0)
        #expect(try box.query("SELECT count(*) FROM silver_episode") == 50)
        #expect(try box.query("SELECT count(*) FROM silver_user") == 100)
        let expectedCodes = [
            "missing_user_id": 59, "missing_episode_id": 45, "invalid_timestamp": 18,
            "invalid_duration_for_play_complete": 15, "missing_event_type": 13,
            "invalid_event_type": 12, "missing_timestamp": 10,
        ]
        for (code, count) in expectedCodes {
            let n = try box.query(
                "SELECT count(*) FROM bronze_event WHERE ',' || error_codes || ',' LIKE '%,\(code),%'")
            #expect(n == count, "code \(code)")
        }
        let q2 = try box.ctl(["report", "listen-through", "--format", "csv"])
        #expect(q2.status == 0, "\(q2.stderr)")
        let de = csvRows(q2.stdout).first { $0.first == "DE" }
        #expect(de == ["DE", "1.507424", "245"])
        let q3 = try box.ctl(["report", "multi-episode-users", "--format", "csv"])
        #expect(csvRows(q3.stdout) == [["users"], ["13"]])
        let q1 = try box.ctl(["report", "top-episodes", "--format", "csv"])
        let q1rows = csvRows(q1.stdout)
        #expect(q1rows.first == ["rank", "episode_id", "title", "podcast_id", "completions"])
        #expect(q1rows.count == 11)
    }
}
