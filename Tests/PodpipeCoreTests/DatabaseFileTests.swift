import Foundation
import GRDB
import Logging
import Testing

@testable import PodpipeCore

#if canImport(Glibc)
    import Glibc
#endif

/// The database file (issue 14, class 3): the writer lock follows the file, not its name;
/// a database deleted or replaced under the writer is noticed; another application's
/// database and a newer schema are refused; the drop folder never offers the database; a
/// reader who cannot create the `-shm` still reads a database without WAL.
@Suite("database file")
struct DatabaseFileTests {
    /// Every path that reaches `real`: itself, a hard link, a symbolic link, a `..` path.
    func otherNames(of real: String, in folder: TemporaryFolder) throws -> [String] {
        let hard = folder.path("hard-link.sqlite")
        let soft = folder.path("symbolic-link.sqlite")
        #expect(link(real, hard) == 0)
        #expect(symlink(real, soft) == 0)
        let sub = try folder.folder("sub")
        return [real, hard, soft, sub + "/../" + (real as NSString).lastPathComponent]
    }

    @Test func aSecondWriterThroughAnyNameOfTheFileIsRefused() throws {
        let folder = try TemporaryFolder("lock-names")
        defer { folder.remove() }
        let real = folder.path("db.sqlite")
        let first = try WriterLock.acquire(database: real)
        for path in try otherNames(of: real, in: folder) {
            var refused = false
            do {
                let second = try WriterLock.acquire(database: path)
                withExtendedLifetime(second) {}
            } catch {
                if case .anotherWriter = error { refused = true }
            }
            #expect(refused, "a second writer through \(path) was let in")
            #expect(WriterLock.isHeld(database: path))
        }
        // The kernel lock is on the file itself: another open file description (what
        // another process has) cannot take it either.
        let fd = open(folder.path("hard-link.sqlite"), O_RDONLY)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX | LOCK_NB) != 0)
        withExtendedLifetime(first) {}
    }

    @Test func aDatabaseCreatedThroughADanglingLinkIsLockedThroughItsRealPath() throws {
        let folder = try TemporaryFolder("lock-dangling")
        defer { folder.remove() }
        let real = folder.path("real.sqlite")
        let link = folder.path("link.sqlite")
        #expect(symlink(real, link) == 0)
        do {
            let first = try WriterLock.acquire(database: link)
            #expect(FileManager.default.fileExists(atPath: real))
            #expect(throws: PipelineError.self) { _ = try WriterLock.acquire(database: real) }
            withExtendedLifetime(first) {}
        }
        // Released: the next writer gets it, through either name.
        let again = try WriterLock.acquire(database: real)
        withExtendedLifetime(again) {}
    }

    @Test func theLockHolderIsReadFromProcLocks() {
        let identity = FileIdentity(device: 0x801, inode: 1234)
        let text = """
            1: POSIX  ADVISORY  READ 99 08:01:1234 1073741826 1073742335
            2: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF
            3: FLOCK  ADVISORY  WRITE 77 08:01:9999 0 EOF
            """
        #expect(LockHolder.pid(inLocks: text, of: identity) == 4242)
        #expect(LockHolder.pid(inLocks: text, of: FileIdentity(device: 0x801, inode: 5)) == nil)
        // Another device number for the same inode (btrfs): taken when nothing matches both.
        #expect(
            LockHolder.pid(
                inLocks: "1: FLOCK  ADVISORY  WRITE 5 00:2f:1234 0 EOF", of: identity) == 5)
    }

    // MARK: - Deleted or replaced under the writer

    @Test func aDeletedDatabaseIsNoticed() throws {
        let folder = try TemporaryFolder("gone")
        defer { folder.remove() }
        let store = try folder.store()
        try store.verifyStillAtPath()
        try FileManager.default.removeItem(atPath: store.path)
        #expect(throws: StoreError.databaseGone(path: store.path, replaced: false)) {
            try store.verifyStillAtPath()
        }
    }

    @Test func aReplacedDatabaseIsNoticed() throws {
        let folder = try TemporaryFolder("replaced")
        defer { folder.remove() }
        let store = try folder.store()
        let other = folder.path("other.sqlite")
        try FileManager.default.copyItem(atPath: store.path, toPath: other)
        #expect(rename(other, store.path) == 0)
        #expect(throws: StoreError.databaseGone(path: store.path, replaced: true)) {
            try store.verifyStillAtPath()
        }
    }

    @Test func anIngestIntoADeletedDatabaseStopsInsteadOfLoading() throws {
        let folder = try TemporaryFolder("gone-ingest")
        defer { folder.remove() }
        let drop = try folder.folder("drop")
        let store = try folder.store()
        try eventLine.write(toFile: drop + "/a.json", atomically: true, encoding: .utf8)
        let pipeline = TestWriter(
            store: store, settings: PipelineSettings(dataLoad: drop), logger: .init(label: "test"))
        try FileManager.default.removeItem(atPath: store.path)
        #expect(throws: StoreError.self) { _ = try pipeline.runOnce() }
    }

    let eventLine =
        #"{"event_type": "play", "user_id": "u1", "episode_id": "e1", "timestamp": "2024-03-01T10:00:00Z", "duration": 10}"#
        + "\n"

    // MARK: - Whose database

    let known = ["0001_a", "0002_b"]

    @Test func ownershipIsDecidedByApplicationIdAndMigrations() {
        let ours = DatabaseOwnership.applicationID
        #expect(
            DatabaseOwnership.classify(applicationID: 0, schemaNames: [], applied: [], known: known) == .new)
        #expect(
            DatabaseOwnership.classify(
                applicationID: ours, schemaNames: ["grdb_migrations", "t"], applied: known, known: known)
                == .podpipe)
        // An earlier podpipe, before the id: adopted.
        #expect(
            DatabaseOwnership.classify(
                applicationID: 0, schemaNames: ["grdb_migrations"], applied: ["0001_a"], known: known)
                == .podpipe)
        #expect(
            DatabaseOwnership.classify(
                applicationID: ours, schemaNames: ["grdb_migrations"], applied: known + ["0009_z"],
                known: known) == .newer(unknown: ["0009_z"]))
        guard
            case .foreign = DatabaseOwnership.classify(
                applicationID: 0, schemaNames: ["users", "orders"], applied: [], known: known),
            case .foreign = DatabaseOwnership.classify(
                applicationID: 42, schemaNames: [], applied: [], known: known),
            case .foreign = DatabaseOwnership.classify(
                applicationID: 0, schemaNames: ["grdb_migrations"], applied: ["v1"], known: known)
        else {
            Issue.record("another application's database was not recognised")
            return
        }
    }

    @Test func anotherApplicationsDatabaseIsRefusedAndLeftUntouched() throws {
        let folder = try TemporaryFolder("foreign")
        defer { folder.remove() }
        let path = folder.path("app.sqlite")
        try DatabaseQueue(path: path).write { db in
            try db.execute(sql: "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
            try db.execute(sql: "INSERT INTO customers (name) VALUES ('a')")
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        var refusal: StoreError?
        do { _ = try Store.openForWriting(path: path) } catch let error as StoreError { refusal = error }
        guard case .foreignDatabase = refusal else {
            Issue.record("opened another application's database for writing: \(String(describing: refusal))")
            return
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(throws: StoreError.self) { _ = try Store.openForReading(path: path) }
    }

    @Test func aDatabaseWithANewerMigrationIsNotWritten() throws {
        let folder = try TemporaryFolder("newer")
        defer { folder.remove() }
        let path = folder.path("db.sqlite")
        try Store.openForWriting(path: path).pool.write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('9999_future')")
        }
        #expect(throws: StoreError.schemaTooNew(path: path, unknown: ["9999_future"])) {
            _ = try Store.openForWriting(path: path)
        }
    }

    @Test func aDatabaseOfAnEarlierPodpipeIsAdopted() throws {
        let folder = try TemporaryFolder("adopt")
        defer { folder.remove() }
        let path = folder.path("db.sqlite")
        try Store.openForWriting(path: path).pool.write { db in
            #expect(try Int32.fetchOne(db, sql: "PRAGMA application_id") == DatabaseOwnership.applicationID)
            // What a database written before migration 0005 looks like.
            try db.execute(sql: "PRAGMA application_id = 0")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = '0005_application_id'")
        }
        _ = try Store.openForReading(path: path)  // readers accept it as it is
        let id = try Store.openForWriting(path: path).pool.read { db in
            try Int32.fetchOne(db, sql: "PRAGMA application_id")
        }
        #expect(id == DatabaseOwnership.applicationID)
    }

    @Test func aHardLinkedDatabaseIsRefused() throws {
        let folder = try TemporaryFolder("hard-linked")
        defer { folder.remove() }
        let path = folder.path("db.sqlite")
        _ = try Store.openForWriting(path: path)
        #expect(link(path, folder.path("other-name.sqlite")) == 0)
        #expect(throws: StoreError.hardLinked(path: path, links: 2)) {
            _ = try Store.openForReading(path: path)
        }
        #expect(throws: StoreError.hardLinked(path: path, links: 2)) {
            _ = try Store.openForWriting(path: path)
        }
    }

    // MARK: - The drop folder

    @Test func theDatabaseInsideTheDropFolderIsNeverACandidate() throws {
        let folder = try TemporaryFolder("db-in-drop")
        defer { folder.remove() }
        let drop = try folder.folder("drop")
        let database = drop + "/events.json"
        let store = try Store.openForWriting(path: database)
        try store.pool.write { db in try db.execute(sql: "PRAGMA user_version = 1") }
        // Other names of it in the folder, and a real file beside them.
        #expect(symlink(database, drop + "/users-db.csv") == 0)
        try eventLine.write(toFile: drop + "/a.json", atomically: true, encoding: .utf8)
        let listing = try DropFolder.list(drop, database: database)
        #expect(listing.candidates.map(\.name) == ["a.json"])
        let ignored = Dictionary(uniqueKeysWithValues: listing.ignored.map { ($0.name, $0.reason) })
        #expect(ignored["events.json"] == DropFolder.databaseFileReason)
        #expect(ignored["users-db.csv"] == DropFolder.databaseFileReason)
        // Without the database named, both would be offered (what the fix prevents).
        #expect(try DropFolder.list(drop).candidates.count == 3)
        withExtendedLifetime(store) {}
    }

    // MARK: - Readers that cannot create the -shm

    @Test func readAccessIsDecidedByWhatTheUserMayCreate() {
        #expect(ReadAccess.decide(walBytes: 100, shmExists: false, folderWritable: true) == .shared)
        #expect(ReadAccess.decide(walBytes: nil, shmExists: false, folderWritable: false) == .immutable)
        #expect(ReadAccess.decide(walBytes: nil, shmExists: true, folderWritable: false) == .immutable)
        #expect(ReadAccess.decide(walBytes: 0, shmExists: false, folderWritable: false) == .immutable)
        #expect(ReadAccess.decide(walBytes: 4096, shmExists: true, folderWritable: false) == .shared)
        guard case .refuse = ReadAccess.decide(walBytes: 4096, shmExists: false, folderWritable: false)
        else {
            Issue.record("a WAL that may hold rows was ignored")
            return
        }
        #expect(ReadAccess.immutableURI("/a b/c?d#e%f") == "file:/a b/c%3fd%23e%25f?immutable=1")
    }

    /// The immutable open a user who cannot write the folder gets (forced here: the tests
    /// may run as root, whom no folder permission stops).
    @Test func anImmutableReaderReadsAndKeepsWritersOut() throws {
        let folder = try TemporaryFolder("immutable")
        defer { folder.remove() }
        let path = folder.path("db.sqlite")
        do {
            let store = try Store.openForWriting(path: path)
            try store.pool.write { db in try db.execute(sql: "PRAGMA user_version = 7") }
        }
        try? FileManager.default.removeItem(atPath: path + "-wal")
        try? FileManager.default.removeItem(atPath: path + "-shm")
        let reader = try Store.openForReading(path: path, access: .immutable)
        #expect(try reader.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") } == 7)
        #expect(!FileManager.default.fileExists(atPath: path + "-shm"))
        #expect(throws: PipelineError.self) { _ = try WriterLock.acquire(database: path) }
        withExtendedLifetime(reader) {}
    }
}
