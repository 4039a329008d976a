import Foundation
import GRDB
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The database file through the real binaries (issue 14, class 3; doc/reliability.md,
/// "The database file").
@Suite("database file (binaries)")
struct DatabaseFileIntegrationTests {
    let fastDaemon = [
        "PODPIPE_WATCH_MODE": "poll", "PODPIPE_WATCH_RESCAN_INTERVAL": "1", "PODPIPE_WATCH_SETTLE": "0",
    ]

    @Test("a second writer through any name of the database exits 75 while the daemon runs")
    func everyPathToTheDatabaseMeetsTheLock() throws {
        let box = try Sandbox()
        let daemon = try DaemonProcess(box: box, env: fastDaemon)
        #expect(daemon.waitReady(), "daemon did not start: \(daemon.stderr)")
        let folder = (box.database as NSString).deletingLastPathComponent
        let hard = box.root.appendingPathComponent("hard.sqlite").path
        let soft = box.root.appendingPathComponent("soft.sqlite").path
        #expect(link(box.database, hard) == 0)
        #expect(symlink(box.database, soft) == 0)
        let dotted = folder + "/../db/./podpipe.sqlite"
        for path in [box.database, hard, soft, dotted] {
            let run = try Binaries.run(
                "podpiped", ["--once", "--data-load", box.dataLoad, "--database", path], timeout: 30)
            #expect(run.status == 75, "podpiped --once --database \(path): \(run.status) \(run.stderr)")
        }
        #expect(daemon.stop()?.status == 0)
    }

    @Test("a database created through a dangling link is locked through its real path too")
    func aDanglingLinkMadeRealSharesTheLock() throws {
        let box = try Sandbox()
        let real = box.root.appendingPathComponent("real.sqlite").path
        let link = box.root.appendingPathComponent("link.sqlite").path
        #expect(symlink(real, link) == 0)
        let daemon = try DaemonProcess(
            box: box, arguments: ["--data-load", box.dataLoad, "--database", link], env: fastDaemon)
        #expect(daemon.waitReady(), "daemon did not start: \(daemon.stderr)")
        let run = try Binaries.run(
            "podpiped", ["--once", "--data-load", box.dataLoad, "--database", real], timeout: 30)
        #expect(run.status == 75, "through the real path: \(run.status) \(run.stderr)")
        #expect(daemon.stop()?.status == 0)
    }

    @Test("the database deleted under the running daemon: it exits 70 and says why")
    func aDeletedDatabaseStopsTheDaemon() throws {
        let box = try Sandbox()
        let daemon = try DaemonProcess(box: box, env: fastDaemon)
        #expect(daemon.waitReady(), "daemon did not start: \(daemon.stderr)")
        try box.drop("a.json", eventLines(3, seed: 1))
        #expect(eventually { box.isRecorded("a.json") })
        try FileManager.default.removeItem(atPath: box.database)
        try box.drop("b.json", eventLines(3, seed: 2))
        // A daemon that goes on (the bug) fails here; its deinit kills it.
        try #require(
            eventually(timeout: 20) { !daemon.process.isRunning }, "still running: \(daemon.stderr)")
        daemon.process.waitUntilExit()
        #expect(daemon.process.terminationStatus == 70)
        #expect(daemon.stderr.contains("was deleted while podpiped was writing it"))
    }

    @Test("another application's database: podpiped and podpipectl exit 70 and leave it as it was")
    func aForeignDatabaseIsRefused() throws {
        let box = try Sandbox()
        try FileManager.default.createDirectory(
            atPath: (box.database as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try DatabaseQueue(path: box.database).write { db in
            try db.execute(sql: "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
            try db.execute(sql: "INSERT INTO invoices (total) VALUES (12.5)")
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: box.database))
        try box.drop("a.json", eventLines(3, seed: 1))
        let run = try box.podpiped()
        #expect(run.status == 70, "podpiped --once: \(run.status) \(run.stderr)")
        #expect(run.stderr.contains("is not a podpipe database"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: box.database)) == before)
        #expect(try box.rows("SELECT name FROM sqlite_master").count == 1)
        let status = try box.ctl(["status"])
        #expect(status.status == 70, "status: \(status.stderr)")
    }

    @Test("a database with a migration this podpipe does not know: podpiped exits 70")
    func aNewerSchemaIsNotWritten() throws {
        let box = try Sandbox()
        #expect(try box.podpiped().status == 0)
        try DatabaseQueue(path: box.database).write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('9999_future')")
        }
        try box.drop("a.json", eventLines(3, seed: 1))
        let run = try box.podpiped()
        #expect(run.status == 70, "podpiped --once: \(run.status) \(run.stderr)")
        #expect(run.stderr.contains("9999_future"))
        #expect(try box.query("SELECT count(*) FROM ingest_file") == 0)
    }

    @Test("a database named events.json inside the drop folder is never ingested")
    func theDatabaseInTheDropFolderIsIgnored() throws {
        let box = try Sandbox()
        let database = box.dataLoad + "/events.json"
        try box.drop("a.json", eventLines(3, seed: 1))
        for _ in 0..<2 {
            let run = try Binaries.run(
                "podpiped", ["--once", "--data-load", box.dataLoad, "--database", database])
            #expect(run.status == 0, "podpiped --once: \(run.stderr)")
        }
        let names = try DatabaseQueue(path: database).read { db in
            try String.fetchAll(db, sql: "SELECT name FROM ingest_file ORDER BY name")
        }
        #expect(names == ["a.json"])
        let status = try Binaries.run(
            "podpipectl", ["status", "--database", database, "--data-load", box.dataLoad])
        #expect(status.stdout.contains("events.json"), "status: \(status.stdout)")
        #expect(status.stdout.contains("never ingested"), "status: \(status.stdout)")
    }

    /// A user who may not create files beside the database (no -wal or -shm there) reads it.
    /// As root (CI), the command runs as `nobody` through setpriv; otherwise the folder is
    /// made read-only, which stops a non-root user.
    @Test("podpipectl status by a user who cannot write the database's folder")
    func aReadOnlyUserReadsADatabaseWithoutWAL() throws {
        let box = try Sandbox()
        try box.drop("a.json", eventLines(3, seed: 1))
        #expect(try box.podpiped().status == 0)
        try? FileManager.default.removeItem(atPath: box.database + "-wal")
        try? FileManager.default.removeItem(atPath: box.database + "-shm")
        let folder = (box.database as NSString).deletingLastPathComponent
        var prefix: [String] = []
        if getuid() == 0 {
            prefix = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
            try #require(FileManager.default.isExecutableFile(atPath: prefix[0]), "setpriv is needed as root")
        } else {
            #expect(chmod(folder, 0o555) == 0)
        }
        defer { chmod(folder, 0o755) }
        let status = try Binaries.run(
            "podpipectl", ["status", "--json", "--database", box.database, "--data-load", box.dataLoad],
            prefix: prefix)
        #expect(status.status == 0 || status.status == 1, "status: \(status.status) \(status.stderr)")
        #expect(status.stdout.contains("\"loaded\""), "status: \(status.stdout)")
        #expect(!FileManager.default.fileExists(atPath: box.database + "-shm"))
    }
}
