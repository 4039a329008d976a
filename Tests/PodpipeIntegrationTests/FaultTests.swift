import Foundation
import GRDB
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Faults around `podpiped --once`: the database on a full or read-only filesystem, locked
/// by another process, a file truncated, deleted or unreadable while it is read, the drop
/// folder missing. Each: nothing is marked `loaded` that was not committed, the exit code is
/// the documented one, and the next pass recovers.
@Suite("Faults", .serialized)
struct FaultTests {
    /// `count` distinct valid events (one file's worth), starting at `start`.
    static func events(_ count: Int, start: Int = 0, tag: String = "u") -> Data {
        var text = ""
        text.reserveCapacity(count * 130)
        for i in start..<(start + count) {
            let ts = 1_713_000_000 + i
            let day = (ts / 86_400) - 19_700
            let clock = ts % 86_400
            let stamp = String(
                format: "2024-%02d-%02dT%02d:%02d:%02d", 4 + day / 28, 1 + day % 28, clock / 3600,
                (clock / 60) % 60, clock % 60)
            text +=
                #"{"event_type": "play", "user_id": "\#(tag)_\#(i % 500)", "episode_id": "ep_\#(i % 40)", "timestamp": "\#(stamp)", "duration": \#(60 + i % 3000)}"#
            text += "\n"
        }
        return Data(text.utf8)
    }

    static func podpiped(
        _ sandbox: Sandbox, database: String? = nil, timeout: Double = 120, prefix: [String] = []
    )
        throws -> BoundedRun
    {
        try BoundedRun.run(
            "podpiped",
            ["--data-load", sandbox.dataLoad, "--database", database ?? sandbox.database, "--once"],
            timeout: timeout, prefix: prefix)
    }

    @Test("database on a full filesystem: the file is not marked loaded; loads once there is room")
    func fullFilesystem() throws {
        let sandbox = try Sandbox()
        try withTmpfs(sandbox, size: "8m") { mountPoint, database in
            try sandbox.drop("a-small.json", Self.events(10), mtime: 1_700_000_000)
            let first = try Self.podpiped(sandbox, database: database)
            #expect(first.status == 0, "\(first.stderr.suffix(2000))")
            try sandbox.drop("b-big.json", Self.events(60_000, start: 10), mtime: 1_700_000_100)
            let full = try Self.podpiped(sandbox, database: database)
            print("fault full-disk: exit \(full.status): \(full.stderr.suffix(600))")
            #expect(!full.timedOut)
            #expect(
                full.status == 1 || full.status == 70, "status \(full.status): \(full.stderr.suffix(2000))")
            #expect(
                full.stderr.contains("full") || full.stderr.contains("FULL"), "\(full.stderr.suffix(2000))")
            // Room again: the same file loads, exactly once.
            let grown = try Binaries.runTool("/bin/mount", ["-o", "remount,size=256m", mountPoint])
            #expect(grown.status == 0, "\(grown.stderr)")
            let queue = try DatabaseQueue(path: database)
            let bigBefore = try queue.read { db in
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM ingest_file WHERE name = 'b-big.json' AND state = 'loaded'"
                )
            }
            #expect(bigBefore == 0, "a file that did not fit was marked loaded")
            let silverBefore = try queue.read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM silver_event")
            }
            #expect(silverBefore == 10)
            let again = try Self.podpiped(sandbox, database: database)
            #expect(again.status == 0, "\(again.stderr.suffix(2000))")
            let ledger = try LedgerRow.all(database)
            #expect(ledger.filter { $0.state == "loaded" }.map(\.name) == ["a-small.json", "b-big.json"])
            #expect(ledger.first { $0.name == "b-big.json" }?.loaded == 60_000)
            #expect(try invariantViolations(database) == [])
        }
    }

    @Test("database on a read-only filesystem: exit 70 with a clear message, nothing marked")
    func readOnlyDatabase() throws {
        let sandbox = try Sandbox()
        try withTmpfs(sandbox, size: "64m") { mountPoint, database in
            try sandbox.drop("a.json", Self.events(10), mtime: 1_700_000_000)
            #expect(try Self.podpiped(sandbox, database: database).status == 0)
            try sandbox.drop("b.json", Self.events(10, start: 10), mtime: 1_700_000_100)
            let ro = try Binaries.runTool("/bin/mount", ["-o", "remount,ro", mountPoint])
            #expect(ro.status == 0, "\(ro.stderr)")
            let run = try Self.podpiped(sandbox, database: database)
            print("fault read-only: exit \(run.status): \(run.stderr.suffix(600))")
            #expect(!run.timedOut)
            #expect(run.status == 70, "status \(run.status): \(run.stderr.suffix(2000))")
            #expect(
                run.stderr.lowercased().contains("read-only") || run.stderr.lowercased().contains("readonly"))
            #expect(try Binaries.runTool("/bin/mount", ["-o", "remount,rw", mountPoint]).status == 0)
            #expect(try LedgerRow.all(database).map(\.name) == ["a.json"], "nothing recorded while read-only")
            let again = try Self.podpiped(sandbox, database: database)
            #expect(again.status == 0, "\(again.stderr.suffix(2000))")
            #expect(
                try LedgerRow.all(database).map { "\($0.name)=\($0.state)" } == [
                    "a.json=loaded", "b.json=loaded",
                ])
            #expect(try invariantViolations(database) == [])
        }
    }

    @Test("database locked by another process beyond the busy timeout: not loaded, then loaded")
    func lockedDatabase() throws {
        let sandbox = try Sandbox()
        try sandbox.drop("a.json", Self.events(10), mtime: 1_700_000_000)
        #expect(try Self.podpiped(sandbox).status == 0)
        try sandbox.drop("b.json", Self.events(10, start: 10), mtime: 1_700_000_100)
        // Another process (sqlite3) holds the write lock until told to let go.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        holder.arguments = [sandbox.database]
        let input = Pipe()
        let output = Pipe()
        holder.standardInput = input
        holder.standardOutput = output
        holder.standardError = FileHandle.nullDevice
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3") else {
            print("skipped: no /usr/bin/sqlite3 to hold the lock")
            return
        }
        try holder.run()
        input.fileHandleForWriting.write(
            Data(
                "BEGIN IMMEDIATE;\nINSERT INTO pipeline_state (key, value) VALUES ('test.lock', 'x');\n.print locked\n"
                    .utf8))
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("locked") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
        }
        #expect(String(decoding: seen, as: UTF8.self).contains("locked"))
        let run = try Self.podpiped(sandbox)
        print("fault locked: exit \(run.status): \(run.stderr.suffix(600))")
        input.fileHandleForWriting.write(Data("ROLLBACK;\n.quit\n".utf8))
        try? input.fileHandleForWriting.close()
        holder.waitUntilExit()
        #expect(!run.timedOut)
        #expect(run.status == 1 || run.status == 70, "status \(run.status): \(run.stderr.suffix(2000))")
        #expect(run.stderr.contains("locked"), "\(run.stderr.suffix(2000))")
        let during = try LedgerRow.all(sandbox.database)
        #expect(!during.contains { $0.name == "b.json" && $0.state == "loaded" })
        let again = try Self.podpiped(sandbox)
        #expect(again.status == 0, "\(again.stderr.suffix(2000))")
        let ledger = try LedgerRow.all(sandbox.database)
        #expect(ledger.filter { $0.state == "loaded" }.map(\.name) == ["a.json", "b.json"])
        #expect(try sandbox.query("SELECT count(*) FROM silver_event") == 20)
        #expect(try invariantViolations(sandbox.database) == [])
    }

    /// Starts `podpiped --once`, waits until it has `name` open, then runs `action`.
    static func whileReading(_ sandbox: Sandbox, _ name: String, _ action: () throws -> Void) throws
        -> BoundedRun
    {
        let path = sandbox.dataLoad + "/" + name
        nonisolated(unsafe) var result: BoundedRun?
        nonisolated(unsafe) var failure: (any Error)?
        let group = DispatchGroup()
        group.enter()
        let args = ["--data-load", sandbox.dataLoad, "--database", sandbox.database, "--once"]
        let thread = Thread {
            do { result = try BoundedRun.run("podpiped", args, timeout: 120) } catch { failure = error }
            group.leave()
        }
        thread.start()
        // Any process with the file open (its path is unique to this sandbox).
        let opened = eventually(timeout: 60) {
            let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            return pids.contains { pid in
                guard Int(pid) != nil else { return false }
                let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
                return fds.contains { fd in
                    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"))
                        == path
                }
            }
        }
        if opened { try action() }
        group.wait()
        if let failure { throw failure }
        #expect(opened, "podpiped never opened \(name)")
        guard let result else { throw CorpusError.posix("podpiped", 0) }
        return result
    }

    @Test("file truncated while read: failed and retried, or loaded as read; never half-loaded")
    func truncatedWhileRead() throws {
        let sandbox = try Sandbox()
        let lines = 200_000
        try sandbox.drop("big.json", Self.events(lines), mtime: 1_700_000_000)
        let path = sandbox.dataLoad + "/big.json"
        let run = try Self.whileReading(sandbox, "big.json") {
            _ = truncate(path, 4096 * 100)
        }
        #expect(!run.timedOut)
        let first = try LedgerRow.all(sandbox.database)
        print("fault truncated: exit \(run.status), \(first.map { "\($0.state): \($0.message)" })")
        #expect(first.count == 1)
        let state = first.first?.state ?? ""
        #expect(state == "failed" || state == "loaded", "\(first.map(\.state))")
        if state == "failed" {
            #expect(run.status == 1, "\(run.stderr.suffix(2000))")
            #expect(
                first.first?.message.contains("changed while it was read") == true,
                "\(first.first?.message ?? "")")
            #expect(try sandbox.query("SELECT count(*) FROM silver_event") == 0)
        }
        // The file is stable now: the next pass settles it, exactly once.
        let again = try Self.podpiped(sandbox)
        #expect(again.status == 0, "\(again.stderr.suffix(2000))")
        let ledger = try LedgerRow.all(sandbox.database)
        #expect(ledger.map(\.state) == ["loaded"])
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
        let recorded = try sandbox.query("SELECT size_bytes FROM ingest_file", as: Int64.self)
        #expect(recorded == size, "the ledger describes the bytes that were loaded")
        #expect(try invariantViolations(sandbox.database) == [])
    }

    @Test("file deleted while read: the open file is read to its end and loaded once")
    func deletedWhileRead() throws {
        let sandbox = try Sandbox()
        let lines = 100_000
        try sandbox.drop("gone.json", Self.events(lines), mtime: 1_700_000_000)
        let path = sandbox.dataLoad + "/gone.json"
        let run = try Self.whileReading(sandbox, "gone.json") { _ = unlink(path) }
        #expect(run.status == 0, "\(run.stderr.suffix(2000))")
        let ledger = try LedgerRow.all(sandbox.database)
        #expect(ledger.map(\.state) == ["loaded"])
        #expect(ledger.first?.loaded == Int64(lines))
        #expect(try invariantViolations(sandbox.database) == [])
        #expect(try Self.podpiped(sandbox).status == 0)
        #expect(try LedgerRow.all(sandbox.database).count == 1)
    }

    @Test("permission-denied file: failed with the reason, the others load; loads once readable")
    func permissionDenied() throws {
        let sandbox = try Sandbox()
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), getuid() == 0 else {
            print(
                "skipped: needs root and setpriv to run podpiped as an unprivileged user (root reads any file)"
            )
            return
        }
        // Everything the unprivileged podpiped needs is reachable; one file is not readable.
        for dir in [sandbox.root.path, sandbox.dataLoad] { _ = chmod(dir, 0o777) }
        try FileManager.default.createDirectory(
            atPath: sandbox.root.appendingPathComponent("db").path, withIntermediateDirectories: true)
        _ = chmod(sandbox.root.appendingPathComponent("db").path, 0o777)
        try sandbox.drop("a-ok.json", Self.events(10), mtime: 1_700_000_000)
        let secret = try sandbox.drop("b-secret.json", Self.events(10, start: 10), mtime: 1_700_000_100)
        _ = chmod(secret, 0o000)
        let asNobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
        let probe = try Binaries.runTool(
            "/usr/bin/setpriv",
            [
                "--reuid=65534", "--regid=65534", "--clear-groups", "--", "/bin/test", "-x",
                Binaries.directory.appendingPathComponent("podpiped").path,
            ])
        guard probe.status == 0 else {
            print("skipped: the unprivileged user cannot run \(Binaries.directory.path)")
            return
        }
        let run = try Self.podpiped(sandbox, prefix: asNobody)
        print("fault permission: exit \(run.status): \(run.stderr.suffix(600))")
        #expect(run.status == 1, "status \(run.status): \(run.stderr.suffix(2000))")
        let ledger = try LedgerRow.all(sandbox.database)
        #expect(ledger.first { $0.name == "a-ok.json" }?.state == "loaded")
        let denied = ledger.first { $0.name == "b-secret.json" }
        #expect(denied?.state == "failed")
        #expect(denied?.message.contains("Permission denied") == true, "\(denied?.message ?? "")")
        _ = chmod(secret, 0o644)
        let again = try Self.podpiped(sandbox, prefix: asNobody)
        #expect(again.status == 0, "\(again.stderr.suffix(2000))")
        #expect(
            try LedgerRow.all(sandbox.database).map { "\($0.name)=\($0.state)" }
                == ["a-ok.json=loaded", "b-secret.json=loaded"])
        #expect(try invariantViolations(sandbox.database) == [])
    }

    @Test("drop folder missing, then recreated: exit 78 with the reason, then a normal pass")
    func dropFolderDeletedAndRecreated() throws {
        let sandbox = try Sandbox()
        try sandbox.drop("a.json", Self.events(10), mtime: 1_700_000_000)
        #expect(try Self.podpiped(sandbox).status == 0)
        try FileManager.default.removeItem(atPath: sandbox.dataLoad)
        let missing = try Self.podpiped(sandbox)
        #expect(missing.status == 78, "\(missing.stderr.suffix(2000))")
        #expect(missing.stderr.contains("does not exist"), "\(missing.stderr.suffix(2000))")
        try FileManager.default.createDirectory(atPath: sandbox.dataLoad, withIntermediateDirectories: true)
        let empty = try Self.podpiped(sandbox)
        #expect(empty.status == 0, "\(empty.stderr.suffix(2000))")
        try sandbox.drop("a.json", Self.events(10), mtime: 1_700_000_000)
        try sandbox.drop("b.json", Self.events(10, start: 10), mtime: 1_700_000_100)
        let back = try Self.podpiped(sandbox)
        #expect(back.status == 0, "\(back.stderr.suffix(2000))")
        #expect(
            try LedgerRow.all(sandbox.database).map { "\($0.name)=\($0.state)" } == [
                "a.json=loaded", "b.json=loaded",
            ])
        #expect(try sandbox.query("SELECT count(*) FROM silver_event") == 20)
    }
}
