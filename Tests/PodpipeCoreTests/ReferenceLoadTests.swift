import Foundation
import GRDB
import Logging
import Testing

@testable import PodpipeCore

/// Reference CSVs upsert into silver by id (SPEC §2.2): a later record of the same id wins,
/// within one file (line order) and across files (processing order). The loader stages a
/// file's valid rows and upserts them in one statement; these pin the order it must keep.
@Suite("reference files: the latest record of an id wins")
struct ReferenceLoadTests {
    @Test func laterRecordsWinWithinAFileAndAcrossFiles() throws {
        let root = try TemporaryFolder("reference")
        defer { root.remove() }
        let folder = try root.folder("in")
        func write(_ name: String, _ text: String, modified: TimeInterval) throws {
            let path = folder + "/" + name
            #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSince1970: modified)], ofItemAtPath: path)
        }
        try write(
            "users-1.csv",
            "user_id,signup_date,country\nu1,2024-01-01,DE\nu2,2024-01-02,DE\nu1,2024-01-03,FR\n,2024-01-04,XX\nu3,2024-01-05,IT\nu1,2024-01-06,\n",
            modified: 1_700_000_000)
        try write(
            "episodes-1.csv",
            "episode_id,podcast_id,title,release_date,duration_seconds\ne1,p,First,2024-01-01,100\ne1,p,Second,2024-01-02,200\ne2,p,Other,2024-01-03,300\n",
            modified: 1_700_000_001)
        let store = try root.store()
        let pipeline = TestWriter(
            store: store, settings: PipelineSettings(dataLoad: folder), logger: Logger(label: "test"))
        let first = try pipeline.runOnce(refreshGold: true)
        #expect(first.outcomes.map(\.state) == [.loaded, .loaded])
        #expect(first.outcomes.map(\.rowsLoaded) == [4, 3])
        #expect(first.outcomes.map(\.rowsRejected) == [2, 0])

        func users() throws -> [String] {
            try store.pool.read { db in
                try String.fetchAll(
                    db,
                    sql:
                        "SELECT user_id || ' ' || signup_date || ' ' || country || ' ' || line_no FROM silver_user ORDER BY user_id"
                )
            }
        }
        // u1: line 4 (FR) wins over line 2; line 7 (no country) is rejected, not applied.
        #expect(try users() == ["u1 2024-01-03 FR 4", "u2 2024-01-02 DE 3", "u3 2024-01-05 IT 6"])
        let episodes = try store.pool.read { db in
            try String.fetchAll(
                db,
                sql:
                    "SELECT episode_id || ' ' || title || ' ' || duration_seconds FROM silver_episode ORDER BY 1"
            )
        }
        #expect(episodes == ["e1 Second 200", "e2 Other 300"])
        // Bronze keeps every record, in line order, with its outcome.
        let bronze = try store.pool.read { db in
            try String.fetchAll(
                db,
                sql:
                    "SELECT line_no || ' ' || outcome FROM bronze_reference WHERE kind = 'users' ORDER BY bronze_id"
            )
        }
        #expect(bronze == ["2 silver", "3 silver", "4 silver", "5 rejected", "6 silver", "7 rejected"])

        // A later file wins over the earlier one; gold's reference snapshot follows.
        try write("users-2.csv", "user_id,signup_date,country\nu2,2024-02-01,US\n", modified: 1_700_000_100)
        let second = try pipeline.runOnce(refreshGold: true)
        #expect(second.outcomes.map(\.state) == [.loaded])
        #expect(try users() == ["u1 2024-01-03 FR 4", "u2 2024-02-01 US 2", "u3 2024-01-05 IT 6"])
        let snapshot = try store.pool.read { db in
            try String.fetchAll(
                db, sql: "SELECT user_id || ' ' || country FROM gold_ref_user ORDER BY user_id")
        }
        #expect(snapshot == ["u1 FR", "u2 US", "u3 IT"])
    }
}

/// Which reference row wins follows file order (modification time, then name, then line),
/// not load order; a re-delivery of the same bytes counts as their newest delivery
/// (``ReferenceOrder``, issue 14).
@Suite("reference files: file order decides, not load order")
struct ReferenceFileOrderTests {
    static let second: Int64 = 1_000_000_000
    static let t0: Int64 = 1_700_000_000 * second

    static let usersA = "user_id,signup_date,country\nu1,2024-01-01,DE\nu2,2024-01-01,FR\n"
    static let usersB = "user_id,signup_date,country\nu1,2024-01-01,AT\nu3,2024-01-01,IT\n"

    static func countries(_ world: LoadedWorld) throws -> [String] {
        try world.queue.read {
            try String.fetchAll(
                $0, sql: "SELECT user_id || '=' || country FROM silver_user ORDER BY user_id")
        }
    }

    static func referenceVersion(_ world: LoadedWorld) throws -> Int {
        try world.count(
            "SELECT coalesce(CAST(value AS INTEGER), 0) FROM pipeline_state WHERE key = 'silver.reference_version'"
        )
    }

    @Test func anOlderExportArrivingLateDoesNotOverwriteANewerOne() throws {
        let world = try LoadedWorld()
        try world.load("users-b.csv", Self.usersB, mtimeNs: Self.t0 + 20 * Self.second)
        // Exported earlier (older mtime), seen later: its u1 is older than B's.
        try world.load("users-a.csv", Self.usersA, mtimeNs: Self.t0 + 10 * Self.second)
        #expect(try Self.countries(world) == ["u1=AT", "u2=FR", "u3=IT"])
    }

    @Test func theSameTimeIsDecidedByTheNameInByteOrder() throws {
        let world = try LoadedWorld()
        try world.load("users-b.csv", Self.usersB, mtimeNs: Self.t0)
        try world.load("users-a.csv", Self.usersA, mtimeNs: Self.t0)
        #expect(try Self.countries(world) == ["u1=AT", "u2=FR", "u3=IT"])
    }

    @Test func reDeliveringAnOlderExportUnderANewNameMakesItTheNewest() throws {
        let world = try LoadedWorld()
        let a = try world.load("users-a.csv", Self.usersA, mtimeNs: Self.t0 + 10 * Self.second)
        try world.load("users-b.csv", Self.usersB, mtimeNs: Self.t0 + 20 * Self.second)
        #expect(try Self.countries(world) == ["u1=AT", "u2=FR", "u3=IT"])
        let version = try Self.referenceVersion(world)
        try world.queue.write { try $0.execute(sql: "DELETE FROM gold_reference_change") }

        // A's bytes again, newer than B: recorded duplicate, and A's rows now win.
        let again = try world.ingest("users-a-again.csv", Self.usersA, mtimeNs: Self.t0 + 30 * Self.second)
        #expect(again.decision == .duplicate)
        #expect(again.entry.duplicateOf == a)
        #expect(try Self.countries(world) == ["u1=DE", "u2=FR", "u3=IT"])
        // Loaded once: bronze holds A's rows once; silver's rows are A's, at the copy's place.
        #expect(try world.count("SELECT count(*) FROM bronze_reference") == 4)
        #expect(
            try world.count(
                "SELECT count(*) FROM silver_user WHERE file_id = \(a) AND order_name = 'users-a-again.csv'")
                == 2)
        // Gold hears of it: the changed user is logged and the reference version moves.
        #expect(try Self.referenceVersion(world) > version)
        #expect(try world.count("SELECT count(*) FROM gold_reference_change WHERE id = 'u1'") == 1)

        // An older copy of B moves nothing (a delivery never moves rows back)…
        _ = try world.ingest("users-b-old.csv", Self.usersB, mtimeNs: Self.t0 + 5 * Self.second)
        #expect(try Self.countries(world) == ["u1=DE", "u2=FR", "u3=IT"])
        // …a newer one makes B the newest again.
        _ = try world.ingest("users-b-again.csv", Self.usersB, mtimeNs: Self.t0 + 40 * Self.second)
        #expect(try Self.countries(world) == ["u1=AT", "u2=FR", "u3=IT"])
    }

    @Test func reDeliveringAnOlderExportUnderItsOwnNameMakesItTheNewest() throws {
        let world = try LoadedWorld()
        try world.load("users-a.csv", Self.usersA, mtimeNs: Self.t0 + 10 * Self.second)
        try world.load("users-b.csv", Self.usersB, mtimeNs: Self.t0 + 20 * Self.second)
        // The same name, the same bytes, a newer time: the ledger's `unchanged`, a delivery.
        let again = try world.ingest("users-a.csv", Self.usersA, mtimeNs: Self.t0 + 30 * Self.second)
        #expect(again.decision == .unchanged)
        #expect(try Self.countries(world) == ["u1=DE", "u2=FR", "u3=IT"])
        // Seen again with an older time: its newest delivery stays the place.
        _ = try world.ingest("users-a.csv", Self.usersA, mtimeNs: Self.t0 + 1 * Self.second)
        #expect(try Self.countries(world) == ["u1=DE", "u2=FR", "u3=IT"])
        let places = try world.queue.read { try Ledger.referencePlaces($0) }
        #expect(
            places.values.map(\.mtimeNs).sorted() == [Self.t0 + 20 * Self.second, Self.t0 + 30 * Self.second])
    }

    @Test func theMigrationGivesRowsLoadedBeforeTheirOwnFilesPlace() throws {
        let root = try TemporaryFolder("reference-migration")
        defer { root.remove() }
        let queue = try DatabaseQueue(path: root.path("db.sqlite"))
        try Migrations.migrator.migrate(queue, upTo: "0007_ledger_change_time")
        try queue.write { db in
            for (id, name, mtime) in [(1, "users-b.csv", 20), (2, "users-a.csv", 10)] {
                try db.execute(
                    sql: """
                        INSERT INTO ingest_file (file_id, name, kind, sha256, size_bytes, mtime, mtime_ns, state, started_at, finished_at)
                        VALUES (?, ?, 'users', ?, 1, 'x', ?, 'loaded', 'x', 'x')
                        """, arguments: [id, name, "sha\(id)", mtime])
            }
            // Load order decided: file 2 (older) was loaded last and holds u1.
            try db.execute(
                sql: """
                    INSERT INTO silver_user (user_id, signup_date, country, file_id, line_no)
                    VALUES ('u1', '2024-01-01', 'DE', 2, 2), ('u2', '2024-01-01', 'AT', 1, 3)
                    """)
        }
        try Migrations.migrator.migrate(queue)
        let places = try queue.read { db in
            try String.fetchAll(
                db,
                sql:
                    "SELECT user_id || ' ' || order_mtime_ns || ' ' || order_name FROM silver_user ORDER BY 1"
            )
        }
        #expect(places == ["u1 10 users-a.csv", "u2 20 users-b.csv"])
        let delivered = try queue.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM ingest_file WHERE delivered_mtime_ns IS NULL")
        }
        #expect(delivered == 2)
    }

    @Test func episodesFollowTheSameRuleLineByLine() throws {
        let world = try LoadedWorld()
        let header = "episode_id,podcast_id,title,release_date,duration_seconds\n"
        try world.load(
            "episodes-2.csv", header + "e1,p,Corrected,2024-01-01,100\ne1,p,Corrected again,2024-01-01,120\n",
            mtimeNs: Self.t0 + 20 * Self.second)
        try world.load(
            "episodes-1.csv", header + "e1,p,Typo,2024-01-01,100\ne2,p,Other,2024-01-01,300\n",
            mtimeNs: Self.t0 + 10 * Self.second)
        let titles = try world.queue.read {
            try String.fetchAll($0, sql: "SELECT episode_id || '=' || title FROM silver_episode ORDER BY 1")
        }
        #expect(titles == ["e1=Corrected again", "e2=Other"])
    }
}
