import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

private func event(_ type: String, _ user: String, _ episode: String, _ ts: String, _ duration: Int?)
    -> String
{
    let d = duration.map(String.init) ?? "null"
    return
        #"{"event_type": "\#(type)", "user_id": "\#(user)", "episode_id": "\#(episode)", "timestamp": "\#(ts)", "duration": \#(d)}"#
}

private let fileA =
    [
        event("play", "u1", "e1", "2024-03-01T10:00:00", 100),
        event("complete", "u1", "e1", "2024-03-01T10:30:00", 1800),
        event("pause", "u2", "e1", "2024-03-01T11:00:00", nil),
        #"{"event_type": "play", "user_id": null, "episode_id": "e1", "timestamp": "2024-03-01T11:00:00", "duration": 5}"#,
    ].joined(separator: "\n") + "\n"

@Suite("ledger: exactly once")
struct LedgerIntegrationTests {
    @Test func loadingTheSameFolderTwiceLoadsNothingNew() throws {
        let box = try Sandbox()
        try box.drop("a.ndjson", fileA, mtime: 1_700_000_000)
        let first = try box.podpiped()
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try box.query("SELECT count(*) FROM silver_event") == 3)
        #expect(try box.query("SELECT count(*) FROM bronze_event") == 4)
        let second = try box.podpiped()
        #expect(second.status == 0)
        #expect(try box.query("SELECT count(*) FROM ingest_file") == 1)
        #expect(try box.query("SELECT count(*) FROM bronze_event") == 4)
        #expect(try box.query("SELECT state FROM ingest_file", as: String.self) == "loaded")
        #expect(try box.query("SELECT rows_rejected FROM ingest_file") == 1)
        #expect(try box.query("SELECT first_error_line FROM ingest_file") == 4)
    }

    @Test func aTouchedFileIsRecognisedByItsBytesAndOnlyItsTimestampMoves() throws {
        let box = try Sandbox()
        try box.drop("a.ndjson", fileA, mtime: 1_700_000_000)
        _ = try box.podpiped()
        // Same bytes, new timestamp (touch, cp without -p): hashed before loading, not loaded.
        try box.drop("a.ndjson", fileA, mtime: 1_700_000_500)
        let run = try box.podpiped()
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stderr.contains("file_loaded"), "\(run.stderr)")
        #expect(try box.query("SELECT count(*) FROM ingest_file") == 1)
        #expect(try box.query("SELECT mtime_ns FROM ingest_file") == 1_700_000_500 * 1_000_000_000)
        #expect(try box.query("SELECT count(*) FROM bronze_event") == 4)
        // The next pass sees the new timestamp as settled.
        let third = try box.podpiped()
        #expect(third.status == 0)
        #expect(try box.query("SELECT count(*) FROM ingest_file") == 1)
    }

    @Test func aRenamedCopyIsADuplicateAndNotLoadedAgain() throws {
        let box = try Sandbox()
        try box.drop("a.ndjson", fileA, mtime: 1_700_000_000)
        _ = try box.podpiped()
        try FileManager.default.moveItem(atPath: box.dataLoad + "/a.ndjson", toPath: box.dataLoad + "/b.json")
        let run = try box.podpiped()
        #expect(run.status == 0, "\(run.stderr)")
        let rows = try box.rows("SELECT name, state, duplicate_of FROM ingest_file ORDER BY file_id")
        #expect(rows.count == 2)
        #expect(rows[1]["name"] == "b.json")
        #expect(rows[1]["state"] == "duplicate")
        #expect(rows[1]["duplicate_of"] == rows[0]["file_id"] as Int64? ?? 1)
        #expect(try box.query("SELECT count(*) FROM bronze_event") == 4)
        #expect(try box.query("SELECT count(*) FROM silver_event") == 3)
        // A third pass does not record the duplicate again.
        _ = try box.podpiped()
        #expect(try box.query("SELECT count(*) FROM ingest_file") == 2)
    }

    @Test func aChangedFileIsANewVersionWithoutDoublingUnchangedEvents() throws {
        let box = try Sandbox()
        try box.drop("a.ndjson", fileA, mtime: 1_700_000_000)
        _ = try box.podpiped()
        let changed = fileA.replacingOccurrences(of: "\"u2\"", with: "\"u3\"")
        try box.drop("a.ndjson", changed, mtime: 1_700_000_100)
        let run = try box.podpiped()
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("new version"))
        let rows = try box.rows(
            "SELECT state, rows_loaded, rows_duplicate, previous_version FROM ingest_file ORDER BY file_id")
        #expect(rows.count == 2)
        #expect(rows[1]["state"] == "loaded")
        #expect(rows[1]["rows_loaded"] == 1)
        #expect(rows[1]["rows_duplicate"] == 2)
        #expect(rows[1]["previous_version"] == 1)
        #expect(try box.query("SELECT count(*) FROM silver_event") == 4)
        #expect(try box.query("SELECT count(*) FROM silver_event WHERE user_id = 'u3'") == 1)
    }

    @Test func badFilesAreRejectedWithAReasonAndTheOthersStillLoad() throws {
        let box = try Sandbox()
        try box.drop("good.ndjson", fileA, mtime: 1_700_000_000)
        try box.drop("empty.json", "", mtime: 1_700_000_001)
        try box.drop("blank.jsonl", "\n  \n\r\n", mtime: 1_700_000_002)
        var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D])
        png.append(Data(repeating: 0x41, count: 100))
        try box.drop("picture.json", png, mtime: 1_700_000_003)
        try box.drop("garbage.ndjson", "hello\nworld\n", mtime: 1_700_000_004)
        try box.drop("notgzip.ndjson.gz", "plain text, not gzip\n", mtime: 1_700_000_005)
        try box.drop("episodes-broken.csv", "id,name\n1,2\n", mtime: 1_700_000_006)
        try box.drop("readme.txt", "not for us", mtime: 1_700_000_007)
        try box.drop("late.ndjson.tmp", fileA, mtime: 1_700_000_008)
        let run = try box.podpiped()
        #expect(run.status == 0, "\(run.stderr)")
        let states = Dictionary(
            uniqueKeysWithValues: try box.rows("SELECT name, state, message FROM ingest_file").map {
                (
                    ($0["name"] as String?) ?? "",
                    (($0["state"] as String?) ?? "", ($0["message"] as String?) ?? "")
                )
            })
        #expect(states["good.ndjson"]?.0 == "loaded")
        #expect(states["empty.json"]?.0 == "rejected")
        #expect(states["empty.json"]?.1.contains("empty") == true)
        #expect(states["blank.jsonl"]?.0 == "rejected")
        #expect(states["picture.json"]?.0 == "rejected")
        #expect(states["picture.json"]?.1.contains("binary") == true)
        #expect(states["garbage.ndjson"]?.0 == "rejected")
        #expect(states["notgzip.ndjson.gz"]?.0 == "rejected")
        #expect(states["notgzip.ndjson.gz"]?.1.contains("gzip") == true)
        #expect(states["episodes-broken.csv"]?.0 == "rejected")
        #expect(states["episodes-broken.csv"]?.1.contains("episode_id") == true)
        #expect(states["readme.txt"] == nil)
        #expect(states["late.ndjson.tmp"] == nil)
        // Garbage lines are kept in bronze with their code; the binary file's are not.
        #expect(try box.query("SELECT count(*) FROM bronze_event WHERE raw = 'hello'") == 1)
        #expect(try box.query("SELECT count(*) FROM silver_event") == 3)
        let status = try box.ctl(["status", "--json"])
        #expect(status.status == 1)  // degraded: rejected files
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        let files = json?["files"] as? [String: Any]
        #expect(files?["rejected"] as? Int == 6)
        #expect(files?["loaded"] as? Int == 1)
    }

    @Test func aGzipFileLoadsLikeItsPlainText() throws {
        let box = try Sandbox()
        let plain = try box.drop("a.ndjson", fileA, mtime: 1_700_000_000)
        #expect(try Binaries.runProgram("/bin/gzip", ["-k", "-S", ".gz", plain]).status == 0)
        try FileManager.default.moveItem(atPath: plain + ".gz", toPath: box.dataLoad + "/b.ndjson.gz")
        try FileManager.default.removeItem(atPath: plain)
        let run = try box.podpiped()
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try box.query("SELECT state FROM ingest_file", as: String.self) == "loaded")
        #expect(try box.query("SELECT count(*) FROM silver_event") == 3)
        #expect(try box.query("SELECT count(*) FROM bronze_event") == 4)
    }

    @Test func aSecondWriterIsRefusedWithItsOwnExitCode() throws {
        let box = try Sandbox()
        try box.drop("a.ndjson", fileA)
        _ = try box.podpiped()
        // The writer lock is a flock on the database file itself.
        let fd = open(box.database, O_RDONLY)
        #expect(fd >= 0)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
        let run = try box.podpiped()
        #expect(run.status == 75)
        #expect(run.stderr.contains("another podpipe writer"))
    }

    @Test func configurationErrorsHaveTheirOwnExitCode() throws {
        let box = try Sandbox()
        let missing = try box.podpiped(["--once", "--config", box.root.path + "/nope.json"])
        #expect(missing.status == 78)
        #expect(missing.stderr.contains("nope.json"))
        let noFolder = try Binaries.run(
            "podpiped", ["--once", "--data-load", box.root.path + "/absent", "--database", box.database])
        #expect(noFolder.status == 78)
        #expect(noFolder.stderr.contains("absent"))
    }

    @Test func flagsOverrideEnvironmentWhichOverridesTheConfigFile() throws {
        let box = try Sandbox()
        try box.drop("a.ndjson", fileA)
        let configPath = box.root.appendingPathComponent("podpipe.json").path
        try #"{"data_load": "data_load", "database": "from-file.sqlite"}"#.write(
            toFile: configPath, atomically: true, encoding: .utf8)
        // File alone: paths relative to the file's folder.
        let fromFile = try Binaries.run("podpiped", ["--once", "--config", configPath])
        #expect(fromFile.status == 0, "\(fromFile.stderr)")
        #expect(
            FileManager.default.fileExists(atPath: box.root.appendingPathComponent("from-file.sqlite").path))
        // Environment beats the file.
        let envDB = box.root.appendingPathComponent("from-env.sqlite").path
        let fromEnv = try Binaries.run(
            "podpiped", ["--once"], env: ["PODPIPE_CONFIG": configPath, "PODPIPE_DATABASE": envDB])
        #expect(fromEnv.status == 0, "\(fromEnv.stderr)")
        #expect(FileManager.default.fileExists(atPath: envDB))
        // The flag beats both.
        let flagDB = box.root.appendingPathComponent("from-flag.sqlite").path
        let fromFlag = try Binaries.run(
            "podpiped", ["--once", "--database", flagDB],
            env: ["PODPIPE_CONFIG": configPath, "PODPIPE_DATABASE": envDB])
        #expect(fromFlag.status == 0, "\(fromFlag.stderr)")
        #expect(FileManager.default.fileExists(atPath: flagDB))
    }
}
