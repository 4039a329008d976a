import Foundation
import GRDB
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `ingest.after` (issue 16) through the real binaries: settled files moved to processed/
/// and rejected/ (or deleted) only after their commit, never over an existing name; a kill
/// between the COMMIT and the move is finished by the next pass without loading again.
@Suite("After commit: move, delete, crash between commit and move")
struct AfterCommitTests {
    static let move = ["PODPIPE_INGEST_AFTER": "move"]

    static func names(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    @Test("loaded and duplicate files go to processed/, rejected ones to rejected/, beside the folder")
    func movesByState() throws {
        let box = try Sandbox()
        try box.drop("a.json", eventLines(5, seed: 1), mtime: 1_700_000_000)
        try box.drop("b-copy.json", eventLines(5, seed: 1), mtime: 1_700_000_001)
        try box.drop("garbage.ndjson", "hello\nworld\n", mtime: 1_700_000_002)
        try box.drop("users.csv", "user_id,signup_date,country\nu1,2024-01-02,DE\n", mtime: 1_700_000_003)
        let run = try box.podpiped(env: Self.move)
        #expect(run.status == 0, "\(run.stderr)")
        let processed = box.root.appendingPathComponent("processed").path
        let rejected = box.root.appendingPathComponent("rejected").path
        #expect(Self.names(box.dataLoad) == [])
        #expect(Self.names(processed) == ["a.json", "b-copy.json", "users.csv"])
        #expect(Self.names(rejected) == ["garbage.ndjson"])
        let ledger = try box.rows("SELECT name, state, disposal, disposed_to FROM ingest_file ORDER BY name")
        #expect(
            ledger.map {
                "\($0["name"] as String? ?? "")=\($0["state"] as String? ?? "")>\($0["disposal"] as String? ?? "-")"
            }
                == [
                    "a.json=loaded>processed", "b-copy.json=duplicate>processed",
                    "garbage.ndjson=rejected>rejected", "users.csv=loaded>processed",
                ])
        #expect(ledger.first?["disposed_to"] == processed + "/a.json")
        #expect(try box.query("SELECT count(*) FROM silver_event") == 5)
        #expect(try invariantViolations(box.database) == [])

        // status: the counts, in new keys beside the contract's.
        let status = try box.ctl(["status", "--json"], env: Self.move)
        let json = try jsonValue(status.stdout) as? [String: Any]
        let after = json?["after_commit"] as? [String: Any]
        #expect(after?["mode"] as? String == "move")
        #expect(after?["moved_to_processed"] as? Int == 3)
        #expect(after?["moved_to_rejected"] as? Int == 1)
        #expect(after?["waiting"] as? Int == 0)
        #expect(after?["processed_dir"] as? String == processed)
        let files = json?["files"] as? [String: Any]
        #expect(
            files?["loaded"] as? Int == 2 && files?["duplicate"] as? Int == 1
                && files?["pending"] as? Int == 0)

        // A second pass finds nothing to do and moves nothing again.
        let again = try box.podpiped(env: Self.move)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try box.query("SELECT count(*) FROM ingest_file") == 4)
    }

    @Test("a name taken in processed/ is never overwritten: a suffix before the kind's extension")
    func nameClashGetsASuffix() throws {
        let box = try Sandbox()
        let processed = box.root.appendingPathComponent("processed").path
        try FileManager.default.createDirectory(atPath: processed, withIntermediateDirectories: true)
        try Data("earlier\n".utf8).write(to: URL(fileURLWithPath: processed + "/events.ndjson.gz"))
        try Data("older\n".utf8).write(to: URL(fileURLWithPath: processed + "/a.json"))
        try box.drop("a.json", eventLines(3, seed: 2), mtime: 1_700_000_000)
        #expect(try box.podpiped(env: Self.move).status == 0)
        // A new version under the same name, then the same again.
        try box.drop("a.json", eventLines(4, seed: 3), mtime: 1_700_000_100)
        #expect(try box.podpiped(env: Self.move).status == 0)
        #expect(Self.names(processed) == ["a.1.json", "a.2.json", "a.json", "events.ndjson.gz"])
        #expect(try String(contentsOfFile: processed + "/a.json", encoding: .utf8) == "older\n")
        #expect(
            try String(contentsOfFile: processed + "/a.1.json", encoding: .utf8) == eventLines(3, seed: 2))
        #expect(
            try String(contentsOfFile: processed + "/a.2.json", encoding: .utf8) == eventLines(4, seed: 3))
        #expect(try box.query("SELECT count(*) FROM silver_event") == 7)
        #expect(
            try box.query(
                "SELECT group_concat(disposed_to, ' ') FROM ingest_file ORDER BY file_id", as: String.self)
                == "\(processed)/a.1.json \(processed)/a.2.json")
    }

    @Test("delete mode: settled files are unlinked after their commit, rows kept")
    func deleteMode() throws {
        let box = try Sandbox()
        try box.drop("a.json", eventLines(6, seed: 4), mtime: 1_700_000_000)
        try box.drop("garbage.ndjson", "hello\n", mtime: 1_700_000_001)
        try box.drop("notes.txt", "not ours", mtime: 1_700_000_002)
        let run = try box.podpiped(env: ["PODPIPE_INGEST_AFTER": "delete"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(Self.names(box.dataLoad) == ["notes.txt"], "ignored names are never touched")
        #expect(!Self.exists(box.root.appendingPathComponent("processed").path))
        #expect(try box.query("SELECT count(*) FROM silver_event") == 6)
        #expect(try box.query("SELECT count(*) FROM ingest_file WHERE disposal = 'deleted'") == 2)
        let status = try box.ctl(["status", "--json"], env: ["PODPIPE_INGEST_AFTER": "delete"])
        let after = (try jsonValue(status.stdout) as? [String: Any])?["after_commit"] as? [String: Any]
        #expect(after?["deleted"] as? Int == 2)
    }

    @Test("kill -9 after COMMIT, before the move: the next pass moves the file without loading it again")
    func killBetweenCommitAndMove() throws {
        let box = try Sandbox()
        try box.drop("1-first.json", eventLines(10, seed: 5), mtime: 1_700_000_000)
        try box.drop("2-second.json", eventLines(20, seed: 6), mtime: 1_700_000_001)
        try box.drop("3-third.json", eventLines(30, seed: 7), mtime: 1_700_000_002)
        // The second file's move is the kill: the first is moved, the second committed and
        // in place, the third not read (one transaction per file here; a group's files would
        // all be committed: doc/reliability.md, "Group commit").
        let killed = try BoundedRun.run(
            "podpiped", ["--data-load", box.dataLoad, "--database", box.database, "--once"], timeout: 120,
            env: Self.move.merging(["PODPIPE_CRASH_AT": "before-move:2", "PODPIPE_INGEST_GROUP_SECONDS": "0"])
            {
                $1
            })
        #expect(killed.status == SIGKILL, "status \(killed.status): \(killed.stderr.suffix(2000))")
        let processed = box.root.appendingPathComponent("processed").path
        #expect(Self.names(processed) == ["1-first.json"])
        #expect(Self.names(box.dataLoad) == ["2-second.json", "3-third.json"])
        #expect(box.isRecorded("2-second.json"))
        #expect(try box.ledger("3-third.json").isEmpty)
        #expect(try box.query("SELECT count(*) FROM silver_event") == 30)
        let committedId = try box.query(
            "SELECT file_id FROM ingest_file WHERE name = '2-second.json'", as: Int64.self)
        #expect(
            try box.query("SELECT disposal FROM ingest_file WHERE name = '2-second.json'", as: String.self)
                == nil)
        let status = try box.ctl(["status", "--json"], env: Self.move)
        let after = (try jsonValue(status.stdout) as? [String: Any])?["after_commit"] as? [String: Any]
        #expect(after?["waiting"] as? Int == 1, "committed, not yet moved")

        let restart = try BoundedRun.run(
            "podpiped", ["--data-load", box.dataLoad, "--database", box.database, "--once"], timeout: 120,
            env: Self.move)
        #expect(restart.status == 0, "\(restart.stderr.suffix(2000))")
        #expect(Self.names(box.dataLoad) == [])
        #expect(Self.names(processed) == ["1-first.json", "2-second.json", "3-third.json"])
        // Loaded exactly once: one ledger row each, the same row for the second file, and
        // only the third file loaded by the restart.
        let ledger = try LedgerRow.all(box.database)
        #expect(
            ledger.map { "\($0.name)=\($0.state):\($0.loaded)" } == [
                "1-first.json=loaded:10", "2-second.json=loaded:20", "3-third.json=loaded:30",
            ])
        #expect(ledger.first { $0.name == "2-second.json" }?.fileId == committedId)
        let loadedLines = restart.stderr.split(separator: "\n").filter { $0.contains("file loaded") }
        #expect(
            loadedLines.count == 1 && loadedLines.first?.contains("file=3-third.json") == true,
            "\(loadedLines)")
        #expect(restart.stderr.contains("file moved to \(processed)/2-second.json"), "\(restart.stderr)")
        #expect(try box.query("SELECT count(*) FROM silver_event") == 60)
        #expect(try box.query("SELECT count(*) FROM bronze_event") == 60)
        #expect(try box.query("SELECT count(*) FROM ingest_file WHERE disposal = 'processed'") == 3)
        #expect(try invariantViolations(box.database) == [])
    }

    @Test("a name that is not UTF-8 and a symbolic link are moved as the entries they are")
    func bytesAndLinks() throws {
        let box = try Sandbox()
        let raw: [UInt8] = Array("ev".utf8) + [0xFF] + Array(".json".utf8)
        try RawPath.write(
            Data(eventLines(2, seed: 22).utf8), folder: box.dataLoad, name: raw, mtime: 1_700_000_000)
        try box.drop("real.json", eventLines(3, seed: 23), mtime: 1_700_000_001)
        try FileManager.default.createSymbolicLink(
            atPath: box.dataLoad + "/alias.json", withDestinationPath: "real.json")
        let run = try box.podpiped(env: Self.move)
        #expect(run.status == 0, "\(run.stderr)")
        let processed = box.root.appendingPathComponent("processed").path
        var st = stat()
        #expect(lstat(RawPath.cString(processed, raw), &st) == 0, "moved by its bytes")
        // The link went as a link (its target moved on its own).
        #expect(lstat(processed + "/alias.json", &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK)
        #expect(lstat(processed + "/real.json", &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG)
        #expect(Self.names(box.dataLoad) == [])
        #expect(try box.query("SELECT count(*) FROM silver_event") == 5)
        #expect(
            try box.query("SELECT disposed_to FROM ingest_file WHERE name = 'ev\\xff.json'", as: String.self)
                == processed + "/ev\\xff.json")
    }

    @Test("a failed file stays in the folder and is retried; it moves once it loads")
    func failedFileStays() throws {
        let box = try Sandbox()
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), getuid() == 0 else {
            print("skipped: needs root and setpriv to make a file unreadable to podpiped")
            return
        }
        for dir in [box.root.path, box.dataLoad] { _ = chmod(dir, 0o777) }
        try FileManager.default.createDirectory(
            atPath: box.root.appendingPathComponent("db").path, withIntermediateDirectories: true)
        _ = chmod(box.root.appendingPathComponent("db").path, 0o777)
        try box.drop("a-ok.json", eventLines(3, seed: 8), mtime: 1_700_000_000)
        let secret = try box.drop("b-secret.json", eventLines(3, seed: 9), mtime: 1_700_000_100)
        _ = chmod(secret, 0o000)
        let asNobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
        let args = ["--data-load", box.dataLoad, "--database", box.database, "--once"]
        let run = try BoundedRun.run("podpiped", args, timeout: 120, env: Self.move, prefix: asNobody)
        #expect(run.status == 1, "\(run.stderr.suffix(2000))")
        #expect(Self.names(box.dataLoad) == ["b-secret.json"])
        #expect(Self.names(box.root.appendingPathComponent("processed").path) == ["a-ok.json"])
        #expect(box.isRecorded("b-secret.json", as: "failed"))
        _ = chmod(secret, 0o644)
        let again = try BoundedRun.run("podpiped", args, timeout: 120, env: Self.move, prefix: asNobody)
        #expect(again.status == 0, "\(again.stderr.suffix(2000))")
        #expect(Self.names(box.dataLoad) == [])
        #expect(
            Self.names(box.root.appendingPathComponent("processed").path) == ["a-ok.json", "b-secret.json"])
    }

    @Test("folders inside the drop folder, through a link, or on another file system: exit 78")
    func refusedFolders() throws {
        let box = try Sandbox()
        try box.drop("a.json", eventLines(2, seed: 10), mtime: 1_700_000_000)
        let inside = try box.podpiped(
            env: Self.move.merging(["PODPIPE_INGEST_PROCESSED_DIR": box.dataLoad + "/done"]) { $1 })
        #expect(inside.status == 78, "\(inside.stderr)")
        #expect(inside.stderr.contains("inside the drop folder"), "\(inside.stderr)")
        // A link beside the folder that leads into it.
        let link = box.root.appendingPathComponent("sneaky").path
        try FileManager.default.createDirectory(
            atPath: box.dataLoad + "/sub", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: box.dataLoad + "/sub")
        let linked = try box.podpiped(env: Self.move.merging(["PODPIPE_INGEST_REJECTED_DIR": link]) { $1 })
        #expect(linked.status == 78, "\(linked.stderr)")
        #expect(linked.stderr.contains("inside the drop folder"), "\(linked.stderr)")
        #expect(Self.names(box.dataLoad) == ["a.json", "sub"], "nothing loaded or moved")
        try withTmpfs(box, size: "1m") { mountPoint, _ in
            let other = try box.podpiped(
                env: Self.move.merging(["PODPIPE_INGEST_PROCESSED_DIR": mountPoint + "/processed"]) { $1 })
            #expect(other.status == 78, "\(other.stderr)")
            #expect(other.stderr.contains("another file system"), "\(other.stderr)")
        }
        #expect(try box.podpiped(env: Self.move).status == 0)
        #expect(Self.names(box.dataLoad) == ["sub"])
    }

    @Test("the daemon moves each file once it committed; a file already settled moves at start")
    func daemonMoves() throws {
        let box = try Sandbox()
        try box.drop("kept.json", eventLines(4, seed: 11), mtime: 1_700_000_000)
        #expect(try box.podpiped().status == 0, "loaded in keep mode: stays")
        #expect(Self.names(box.dataLoad) == ["kept.json"])
        let daemon = try DaemonProcess(
            box: box, env: Self.move.merging(["PODPIPE_WATCH_SETTLE": "0.2"]) { $1 })
        #expect(daemon.waitReady())
        let processed = box.root.appendingPathComponent("processed").path
        #expect(eventually { Self.names(processed) == ["kept.json"] }, "\(daemon.stderr)")
        try box.drop("new.json", eventLines(5, seed: 12))
        #expect(eventually { Self.names(processed) == ["kept.json", "new.json"] }, "\(daemon.stderr)")
        #expect(Self.names(box.dataLoad) == [])
        #expect(daemon.stop()?.status == 0)
        #expect(try box.query("SELECT count(*) FROM silver_event") == 9)
        #expect(try box.query("SELECT count(*) FROM ingest_file") == 2)
        #expect(daemon.stderr.contains("file moved"), "\(daemon.stderr)")
    }
}

/// `watch.include` / `watch.exclude` through the real binaries.
@Suite("Selecting files: include and exclude globs")
struct SelectionTests {
    @Test(
        "names outside the include globs or matching an exclude glob are ignored, with the reason in status")
    func includeExclude() throws {
        let box = try Sandbox()
        try box.drop("events-1.json", eventLines(3, seed: 13), mtime: 1_700_000_000)
        try box.drop("events-2-draft.json", eventLines(3, seed: 14), mtime: 1_700_000_001)
        try box.drop("other.json", eventLines(3, seed: 15), mtime: 1_700_000_002)
        try box.drop("users.csv", "user_id,signup_date,country\nu1,2024-01-02,DE\n", mtime: 1_700_000_003)
        let env = ["PODPIPE_WATCH_INCLUDE": "events-*, users*.csv", "PODPIPE_WATCH_EXCLUDE": "*-draft.*"]
        let run = try box.podpiped(env: env)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(
            try box.rows("SELECT name FROM ingest_file ORDER BY name").map { $0["name"] as String? ?? "" }
                == [
                    "events-1.json", "users.csv",
                ])
        let status = try box.ctl(["status", "--json"], env: env)
        let json = try jsonValue(status.stdout) as? [String: Any]
        let ignored = json?["ignored_names"] as? [String] ?? []
        #expect(
            ignored.contains {
                $0.hasPrefix("events-2-draft.json: excluded by the watch.exclude glob *-draft.*")
            }, "\(ignored)")
        #expect(ignored.contains { $0.hasPrefix("other.json: matches no watch.include glob") }, "\(ignored)")
        #expect((json?["files"] as? [String: Any])?["pending"] as? Int == 0)
        // Without the globs the other names are ingested.
        #expect(try box.podpiped().status == 0)
        #expect(try box.query("SELECT count(*) FROM ingest_file") == 4)
    }

    @Test("a glob list in the configuration file; a bad one is refused with exit 78")
    func globsFromTheFile() throws {
        let box = try Sandbox()
        try box.drop("a.json", eventLines(2, seed: 16), mtime: 1_700_000_000)
        try box.drop("b.json", eventLines(2, seed: 17), mtime: 1_700_000_001)
        let config = box.root.appendingPathComponent("podpipe.json").path
        try Data(#"{"watch": {"exclude": ["b.*"]}}"#.utf8).write(to: URL(fileURLWithPath: config))
        let run = try box.podpiped(["--once", "--config", config])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(
            try box.rows("SELECT name FROM ingest_file").map { $0["name"] as String? ?? "" } == ["a.json"])
        try Data(#"{"watch": {"exclude": ["ok", 3]}}"#.utf8).write(to: URL(fileURLWithPath: config))
        let bad = try box.podpiped(["--once", "--config", config])
        #expect(bad.status == 78, "\(bad.stderr)")
        #expect(bad.stderr.contains("watch.exclude"), "\(bad.stderr)")
    }

    @Test("watch.recursive: date-partitioned sub-folders, names relative to the drop folder, no link loops")
    func recursive() throws {
        let box = try Sandbox()
        let fm = FileManager.default
        for day in ["2024/05/01", "2024/05/02", ".snapshot/2024"] {
            try fm.createDirectory(atPath: box.dataLoad + "/" + day, withIntermediateDirectories: true)
        }
        try box.drop("2024/05/01/events-a.ndjson", eventLines(3, seed: 18), mtime: 1_700_000_000)
        try box.drop("2024/05/02/events-b.ndjson", eventLines(4, seed: 19), mtime: 1_700_000_001)
        try box.drop("2024/05/02/notes.txt", "not ours", mtime: 1_700_000_002)
        try box.drop(".snapshot/2024/events-a.ndjson", eventLines(3, seed: 18), mtime: 1_700_000_003)
        try box.drop("top.json", eventLines(2, seed: 20), mtime: 1_700_000_004)
        // A link back up the tree: never followed (no loop).
        try fm.createSymbolicLink(atPath: box.dataLoad + "/2024/loop", withDestinationPath: box.dataLoad)
        let plain = try box.podpiped()
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(
            try box.rows("SELECT name FROM ingest_file").map { $0["name"] as String? ?? "" } == ["top.json"])
        let env = ["PODPIPE_WATCH_RECURSIVE": "true", "PODPIPE_INGEST_AFTER": "move"]
        let run = try box.podpiped(env: env)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(
            try box.rows("SELECT name FROM ingest_file ORDER BY file_id").map { $0["name"] as String? ?? "" }
                == [
                    "top.json", "2024/05/01/events-a.ndjson", "2024/05/02/events-b.ndjson",
                ])
        #expect(try box.query("SELECT count(*) FROM silver_event") == 9)
        let processed = box.root.appendingPathComponent("processed").path
        #expect(AfterCommitTests.exists(processed + "/2024/05/01/events-a.ndjson"))
        #expect(AfterCommitTests.exists(processed + "/2024/05/02/events-b.ndjson"))
        #expect(AfterCommitTests.exists(processed + "/top.json"))
        #expect(AfterCommitTests.names(box.dataLoad + "/2024/05/02") == ["notes.txt"])
        let status = try box.ctl(["status", "--json"], env: env)
        let ignored = (try jsonValue(status.stdout) as? [String: Any])?["ignored_names"] as? [String] ?? []
        #expect(ignored.contains { $0.hasPrefix(".snapshot: hidden folder") }, "\(ignored)")
        #expect(ignored.contains { $0.hasPrefix("2024/loop: ") }, "\(ignored)")
        #expect(
            ignored.contains { $0.hasPrefix("2024/05/02/notes.txt: name matches no input kind") },
            "\(ignored)")
    }

    @Test("watch.recursive in the daemon: it polls, and a sub-folder created later is read")
    func recursiveDaemon() throws {
        let box = try Sandbox()
        let env = [
            "PODPIPE_WATCH_RECURSIVE": "yes", "PODPIPE_WATCH_SETTLE": "0.2",
            "PODPIPE_WATCH_RESCAN_INTERVAL": "1",
        ]
        let daemon = try DaemonProcess(box: box, env: env)
        #expect(daemon.waitReady())
        try FileManager.default.createDirectory(
            atPath: box.dataLoad + "/2024/06/30", withIntermediateDirectories: true)
        try box.drop("2024/06/30/events-late.ndjson", eventLines(5, seed: 21))
        #expect(eventually { box.isRecorded("2024/06/30/events-late.ndjson") }, "\(daemon.stderr)")
        #expect(daemon.stderr.contains("watch_mode=poll"), "\(daemon.stderr)")
        #expect(daemon.stop()?.status == 0)
        #expect(try box.query("SELECT count(*) FROM silver_event") == 5)
    }
}
