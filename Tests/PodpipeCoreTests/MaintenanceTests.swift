import Foundation
import GRDB
import Testing

@testable import PodpipeCore

@Suite("maintenance: reprocess, revalidate, reference replay")
struct MaintenanceTests {
    @Test func forgettingAFileRemovesItsRowsAndBumpsTheGeneration() throws {
        let world = try LoadedWorld()
        let a = try world.load(
            "a.ndjson",
            [
                eventLine("play", "u1", "e1", "2024-01-01T10:00:00", "10"),
                eventLine("stop", "u1", "e1", "2024-01-01T10:00:00"),
            ].joined(separator: "\n"))
        try world.load(
            "b.ndjson",
            [
                eventLine("play", "u1", "e1", "2024-01-01T10:00:00", "20"),  // duplicate of a's
                eventLine("play", "u2", "e1", "2024-01-01T10:00:00", "20"),
            ].joined(separator: "\n"))
        try world.queue.write { db in
            try db.execute(
                sql: "UPDATE ingest_file SET duplicate_of = ? WHERE name = 'b.ndjson'", arguments: [a])
        }
        let plan = try world.queue.read { db in
            try Reprocessor.plan(names: ["a.ndjson"], allVersions: false, dryRun: true, in: db)
        }
        #expect(plan.items.map(\.name) == ["a.ndjson"])
        #expect(plan.items.first?.bronzeRows == 2)
        #expect(plan.items.first?.silverRows == 1)
        let result = try world.queue.write { db in try Reprocessor.apply(plan, in: db) }
        #expect(result.generation == "1")
        #expect(try world.count("SELECT count(*) FROM ingest_file WHERE name = 'a.ndjson'") == 0)
        #expect(try world.count("SELECT count(*) FROM bronze_event WHERE file_id = \(a)") == 0)
        #expect(try world.count("SELECT count(*) FROM silver_event") == 1)
        #expect(try world.count("SELECT count(*) FROM ingest_file WHERE duplicate_of IS NOT NULL") == 0)
        #expect(throws: MaintenanceError.self) {
            try world.queue.read { db in
                try Reprocessor.plan(names: ["a.ndjson"], allVersions: false, dryRun: true, in: db)
            }
        }
    }

    @Test func forgettingAReferenceFileFallsBackToEarlierValues() throws {
        let world = try LoadedWorld()
        try world.load("users.csv", "user_id,signup_date,country\nu1,2024-01-01,DE\nu2,2024-01-01,FR\n")
        try world.load("users-2.csv", "country,user_id,signup_date\nAT,u1,2024-01-01\nUS,u3,2024-02-01\n")
        #expect(
            try world.queue.read {
                try String.fetchOne($0, sql: "SELECT country FROM silver_user WHERE user_id = 'u1'")
            } == "AT")
        let result = try world.queue.write { db in
            try Reprocessor.apply(
                try Reprocessor.plan(names: ["users-2.csv"], allVersions: false, dryRun: false, in: db),
                in: db)
        }
        let users = try world.queue.read {
            try Row.fetchAll($0, sql: "SELECT user_id, country FROM silver_user ORDER BY user_id")
        }
        #expect(
            users.map { "\($0["user_id"] as String? ?? "")=\($0["country"] as String? ?? "")" } == [
                "u1=DE", "u2=FR",
            ])
        let change = try #require(result.reference.first { $0.kind == "users" })
        #expect(change.removed == 1)
        #expect(change.changed == 1)
        #expect(
            try world.queue.read {
                try String.fetchOne(
                    $0, sql: "SELECT value FROM pipeline_state WHERE key = 'silver.reference_version'")
            } == "3")
    }

    @Test func revalidateWithAWiderSkewAndStableIds() throws {
        let world = try LoadedWorld()
        let now: Int64 = 1_704_103_200  // 2024-01-01T10:00:00Z
        try world.load(
            "a.ndjson",
            [
                eventLine("play", "u1", "e1", "2024-01-01T10:00:00", "10"),
                eventLine("play", "u1", "e1", "2024-01-02T10:00:00", "10"),  // future at load time
                eventLine("pause", "u1", "e1", "2024-01-01T10:00:00"),
                #"{"broken"#,
            ].joined(separator: "\n"), now: now)
        try world.load(
            "b.ndjson",
            [
                eventLine("play", "u1", "e1", "2024-01-02T10:00:00", "77"),  // also future
                eventLine("pause", "u1", "e1", "2024-01-01T10:00:00"),  // duplicate
            ].joined(separator: "\n"), now: now)
        let idsBefore = try world.queue.read {
            try Int64.fetchAll($0, sql: "SELECT event_id FROM silver_event ORDER BY event_id")
        }
        #expect(idsBefore.count == 2)

        // Same rules, same now: nothing changes.
        let same = try world.queue.write { db in
            try Revalidator(futureSkewSeconds: 300, now: Date(timeIntervalSince1970: TimeInterval(now))).run(
                db, dryRun: false)
        }
        #expect(same.eventsAdded == 0 && same.eventsRemoved == 0 && same.eventsChanged == 0)
        #expect(same.bronzeEventRowsChanged == 0)
        #expect(same.keptMalformed == 1)
        #expect(same.files.isEmpty)
        #expect(same.goldMode == "full")

        // Two days later the future events are valid; a's copy comes first (load order).
        let later = Date(timeIntervalSince1970: TimeInterval(now + 2 * 86_400))
        let summary = try world.queue.write { db in try Revalidator(now: later).run(db, dryRun: false) }
        #expect(summary.eventsAdded == 1)
        #expect(summary.bronzeEventRowsChanged == 2)  // a line 2 → silver, b line 1 → duplicate
        #expect(summary.codesBefore["timestamp_in_future"] == 2)
        #expect(summary.codesAfter["timestamp_in_future"] == nil)
        #expect(summary.files.map(\.name) == ["a.ndjson", "b.ndjson"])
        let rows = try world.queue.read {
            try Row.fetchAll($0, sql: "SELECT event_id, ts, duration FROM silver_event ORDER BY event_id")
        }
        #expect(rows.prefix(2).map { $0["event_id"] as Int64? ?? 0 } == idsBefore)
        #expect(rows.last?["duration"] == 10)
        let ledger = try world.queue.read {
            try Row.fetchAll(
                $0,
                sql:
                    "SELECT rows_loaded, rows_rejected, rows_duplicate, first_error_line FROM ingest_file ORDER BY file_id"
            )
        }
        #expect(ledger[0]["rows_loaded"] == 3)
        #expect(ledger[0]["rows_rejected"] == 1)
        #expect(ledger[0]["first_error_line"] == 4)
        #expect(ledger[1]["rows_loaded"] == 0)
        #expect(ledger[1]["rows_duplicate"] == 2)
        #expect(ledger[1]["rows_rejected"] == 0)
        #expect(summary.generation == "2")

        // A dry run inside a rolled-back transaction changes nothing.
        let count = try world.count("SELECT count(*) FROM silver_event")
        _ = try world.queue.writeWithoutTransaction { db in
            try db.inTransaction {
                _ = try Revalidator(now: Date(timeIntervalSince1970: TimeInterval(now))).run(db, dryRun: true)
                return .rollback
            }
        }
        #expect(try world.count("SELECT count(*) FROM silver_event") == count)
    }

    @Test func rawReferenceRecordsRoundTrip() {
        let values = [
            "plain", "with, comma", "quote \" and \\ backslash", "line\nbreak\r\ttab", "\u{01}ctl",
            "Ünïcödé 🎧", "",
        ]
        let header = values.indices.map { "c\($0)" } + ["c0"]
        let raw = ReferenceFileLoader.jsonObject(header: header, fields: values + ["dup"])
        let parsed = ReferenceRawRecord.parse(raw)
        #expect(parsed?.map(\.key) == header)
        #expect(parsed?.map(\.value) == values + ["dup"])
        // The first of equal names, like the loader.
        #expect(ReferenceReplay.columns(raw, ["c1", "c0"]) == ["with, comma", "plain"])
        for bad in ["", "{", "{\"a\": 1}", "{\"a\": \"b\"} x", "[\"a\"]", "{\"a\" \"b\"}"] {
            #expect(ReferenceRawRecord.parse(bad) == nil, "\(bad)")
        }
        #expect(ReferenceRawRecord.parse("{}")?.isEmpty == true)
    }
}

/// `reprocess` and `revalidate` follow the reference file order (``ReferenceOrder``): what
/// they leave in silver is what loading the files in their order gives (issue 14).
@Suite("maintenance: the reference file order")
struct ReferenceOrderMaintenanceTests {
    static let second: Int64 = 1_000_000_000
    static let t0: Int64 = 1_700_000_000 * second
    static let header = "episode_id,podcast_id,title,release_date,duration_seconds\n"
    static let old = header + "e1,p,Tpyo,2024-01-01,100\ne2,p,Two,2024-01-01,200\n"
    static let new = header + "e1,p,Typo fixed,2024-01-01,100\ne3,p,Three,2024-01-01,300\n"

    static func silver(_ world: LoadedWorld) throws -> [String] {
        try world.queue.read {
            try String.fetchAll(
                $0,
                sql: """
                    SELECT episode_id || '=' || title || ' ' || line_no || ' ' || order_mtime_ns || ' ' || order_name
                    FROM silver_episode ORDER BY episode_id
                    """)
        }
    }

    static func reprocess(_ world: LoadedWorld, _ name: String) throws {
        _ = try world.queue.write { db in
            try Reprocessor.apply(
                try Reprocessor.plan(names: [name], allVersions: false, dryRun: false, in: db), in: db)
        }
    }

    @Test func reprocessOfAnOlderExportThenTheNextPassLeavesSilverAsItWas() throws {
        let world = try LoadedWorld()
        try world.load("episodes-old.csv", Self.old, mtimeNs: Self.t0 + 10 * Self.second)
        try world.load("episodes-new.csv", Self.new, mtimeNs: Self.t0 + 20 * Self.second)
        let before = try Self.silver(world)
        #expect(before.first?.hasPrefix("e1=Typo fixed") == true)

        try Self.reprocess(world, "episodes-old.csv")
        // The next pass loads it again from the folder, with its own (older) time.
        try world.load("episodes-old.csv", Self.old, mtimeNs: Self.t0 + 10 * Self.second)
        #expect(try Self.silver(world) == before)
    }

    @Test func reprocessOfAReDeliveredExportPutsItBackAtItsNewestDelivery() throws {
        let world = try LoadedWorld()
        try world.load("episodes-old.csv", Self.old, mtimeNs: Self.t0 + 10 * Self.second)
        try world.load("episodes-new.csv", Self.new, mtimeNs: Self.t0 + 20 * Self.second)
        // The old export delivered again, after the new one: it wins.
        _ = try world.ingest("episodes-old-again.csv", Self.old, mtimeNs: Self.t0 + 30 * Self.second)
        let before = try Self.silver(world)
        #expect(before.first?.hasPrefix("e1=Tpyo") == true)

        try Self.reprocess(world, "episodes-old.csv")
        #expect(try Self.silver(world).first?.hasPrefix("e1=Typo fixed") == true)
        try world.load("episodes-old.csv", Self.old, mtimeNs: Self.t0 + 10 * Self.second)
        #expect(try Self.silver(world) == before)
    }

    @Test func revalidateGivesWhatAFreshLoadInFileOrderGives() throws {
        // Files as they arrived (load order) with their modification times (file order).
        let users = "user_id,signup_date,country\n"
        let arrivals: [(name: String, content: String, second: Int64)] = [
            ("episodes-3.csv", Self.header + "e1,p,Third,2024-01-01,100\n", 30),
            ("users-2.csv", users + "u1,2024-01-01,AT\nu2,2024-01-01,CH\n", 20),
            ("episodes-1.csv", Self.old, 10),
            ("users-1.csv", users + "u1,2024-01-01,DE\nu3,2024-01-01,IT\n", 10),
            ("episodes-2.csv", Self.new, 20),
            ("users-1-again.csv", users + "u1,2024-01-01,DE\nu3,2024-01-01,IT\n", 40),
        ]
        func snapshot(_ world: LoadedWorld) throws -> [String] {
            try world.queue.read { db in
                try String.fetchAll(
                    db,
                    sql: """
                        SELECT episode_id || '=' || title || ' ' || line_no || ' ' || order_mtime_ns || ' ' || order_name
                        FROM silver_episode
                        UNION ALL
                        SELECT user_id || '=' || country || ' ' || line_no || ' ' || order_mtime_ns || ' ' || order_name
                        FROM silver_user
                        ORDER BY 1
                        """)
            }
        }
        let arrived = try LoadedWorld()
        for file in arrivals {
            _ = try arrived.ingest(file.name, file.content, mtimeNs: Self.t0 + file.second * Self.second)
        }
        let inFileOrder = try LoadedWorld()
        let fileOrder = arrivals.sorted { a, b in
            a.second != b.second
                ? a.second < b.second : Array(a.name.utf8).lexicographicallyPrecedes(Array(b.name.utf8))
        }
        for file in fileOrder {
            _ = try inFileOrder.ingest(file.name, file.content, mtimeNs: Self.t0 + file.second * Self.second)
        }
        let expected = try snapshot(inFileOrder)
        #expect(expected.contains { $0.hasPrefix("e1=Third 2 ") })
        #expect(expected.contains { $0.hasPrefix("u1=DE 2 ") })
        #expect(expected.contains { $0.hasPrefix("u2=CH ") })
        #expect(try snapshot(arrived) == expected)

        // Forget what silver holds: the replay decides everything again from bronze.
        try arrived.queue.write { db in
            try db.execute(sql: "UPDATE silver_episode SET title = 'stale', order_mtime_ns = 0")
            try db.execute(sql: "UPDATE silver_user SET country = 'XX', order_mtime_ns = 0")
        }
        let summary = try arrived.queue.write { db in try Revalidator().run(db, dryRun: false) }
        #expect(summary.reference.contains { $0.changed > 0 })
        #expect(try snapshot(arrived) == expected)
    }
}
