import Foundation
import GRDB
import Logging
import PodpipeRules
import Synchronization
import Testing

@testable import PodpipeCore

/// Files waiting together share one transaction (``Pipeline/ingestGroup(_:)``): the same rows,
/// ids and ledger as one transaction per file, nothing announced before the COMMIT, and a
/// failed file or a stop never leaves part of a group behind.
@Suite("pipeline: a group commit of the files waiting together")
struct GroupCommitTests {
    /// What the ingest told its observer, in order.
    final class Recorder: IngestObserver {
        enum Call: Equatable {
            case begins, committed, rolledBack, groupRolledBack
            case settled([String])
        }
        let calls = Mutex<[Call]>([])

        func eventFileBegins(silverLast: Int64, expectedEvents: Int64, _ db: Database) throws {
            calls.withLock { $0.append(.begins) }
        }
        func eventRowsInserted(_ rows: [SilverRow], inserted: [Bool]) {}
        func fileRolledBack() { calls.withLock { $0.append(.rolledBack) } }
        func fileCommitted() { calls.withLock { $0.append(.committed) } }
        func filesRolledBack() { calls.withLock { $0.append(.groupRolledBack) } }
        var followsSettledFiles: Bool { true }
        func filesSettled(_ files: [SettledFile]) {
            calls.withLock { $0.append(.settled(files.map(\.candidate.name))) }
        }
        var all: [Call] { calls.withLock { $0 } }
    }

    static let names = ["a.ndjson", "b.ndjson", "c.ndjson", "d.ndjson"]

    /// Event files a–d (d repeats two of c's events: duplicates across the group), oldest
    /// first, each in random time order with CRLF line ends, and a users file.
    static func drop(into folder: String, sizes: [Int] = [300, 300, 300, 300]) throws {
        var rng = SystemRandomNumberGenerator()
        func line(_ n: Int) -> String {
            let stamp = Timestamps.formatUTC(Int64(1_713_000_000 + (n * 7_919) % 2_000_000))
            return
                #"{"event_type": "play", "user_id": "u_\#(n % 37)", "episode_id": "ep_\#(n % 11)", "timestamp": "\#(stamp)", "duration": \#(30 + n % 900)}"#
        }
        var first = 0
        for (index, name) in names.enumerated() {
            var lines = (first..<(first + sizes[index])).map(line)
            first += sizes[index]
            if name == "d.ndjson" {
                lines += (600..<602).map(line)
            }
            lines.shuffle(using: &rng)
            let path = folder + "/" + name
            try Data((lines.joined(separator: "\r\n") + "\r\n").utf8).write(to: URL(fileURLWithPath: path))
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSince1970: 1_700_000_000 + Double(index) * 60)],
                ofItemAtPath: path)
        }
        let users = folder + "/users.csv"
        try Data("user_id,signup_date,country\nu_1,2024-01-02,FR\n".utf8).write(
            to: URL(fileURLWithPath: users))
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSince1970: 1_699_999_000)], ofItemAtPath: users)
    }

    static func pipeline(
        _ store: Store, _ dataLoad: String, groupSeconds: Double, observer: Recorder
    ) -> Pipeline {
        Pipeline(
            store: store, settings: PipelineSettings(dataLoad: dataLoad, groupSeconds: groupSeconds),
            logger: Logger(label: "test"), observer: observer)
    }

    /// Silver's rows with their ids, and the ledger without its times.
    static func snapshot(_ path: String) throws -> [[String]] {
        try DatabaseQueue(path: path).read { db in
            let silver = try Row.fetchAll(
                db,
                sql: """
                    SELECT event_id, ts, user_id, episode_id, event_type, duration, file_id, line_no
                    FROM silver_event ORDER BY event_id
                    """
            ).map { row in (0..<8).map { "\(row[$0] as DatabaseValue)" } }
            let ledger = try Row.fetchAll(
                db,
                sql: """
                    SELECT file_id, name, state, rows_read, rows_loaded, rows_rejected, rows_duplicate
                    FROM ingest_file ORDER BY file_id
                    """
            ).map { row in (0..<7).map { "\(row[$0] as DatabaseValue)" } }
            let bronze = try Row.fetchAll(
                db, sql: "SELECT bronze_id, file_id, line_no, outcome FROM bronze_event ORDER BY bronze_id"
            ).map { row in (0..<4).map { "\(row[$0] as DatabaseValue)" } }
            return silver + [["--"]] + ledger + [["--"]] + bronze
        }
    }

    @Test func aBacklogIsOneGroupAndGivesWhatOneFileATimeGives() throws {
        let folder = try TemporaryFolder("group")
        defer { folder.remove() }
        let dataLoad = try folder.folder("in")
        try Self.drop(into: dataLoad)

        let single = Recorder()
        let alone = try Store.openForWriting(path: folder.path("alone.sqlite"))
        let one = try Self.pipeline(alone, dataLoad, groupSeconds: 0, observer: single).ingestPending()
        let grouped = Recorder()
        let together = try Store.openForWriting(path: folder.path("group.sqlite"))
        let group = try Self.pipeline(together, dataLoad, groupSeconds: 3_600, observer: grouped)
            .ingestPending()

        #expect(one.outcomes.map(\.state) == [.loaded, .loaded, .loaded, .loaded, .loaded])
        #expect(group.outcomes.map(\.name) == one.outcomes.map(\.name))
        #expect(group.outcomes.map(\.state) == one.outcomes.map(\.state))
        #expect(group.outcomes.last?.rowsDuplicate == 2)
        #expect(try Self.snapshot(folder.path("group.sqlite")) == Self.snapshot(folder.path("alone.sqlite")))
        // One file at a time: each commits before the next begins. As a group: every file
        // begins before the one COMMIT, and none is announced settled before it.
        #expect(
            single.all.filter { $0 == .begins || $0 == .committed }
                == [.committed]
                + Array(repeating: [GroupCommitTests.Recorder.Call.begins, .committed], count: 4).flatMap {
                    $0
                })
        let firstCommit = try #require(grouped.all.firstIndex(of: .committed))
        #expect(grouped.all[..<firstCommit].filter { $0 == .begins }.count == 4)
        #expect(!grouped.all[..<firstCommit].contains { if case .settled = $0 { true } else { false } })
        #expect(grouped.all.filter { $0 == .committed }.count == 5)
        #expect(
            grouped.all.compactMap { if case .settled(let names) = $0 { names } else { nil } }.flatMap { $0 }
                == ["users.csv"] + Self.names)
    }

    @Test func filesThatOnlyAppendToSilverCommitOneByOne() throws {
        let folder = try TemporaryFolder("group-append")
        defer { folder.remove() }
        let dataLoad = try folder.folder("in")
        // Time-ordered deliveries: each file's events come after the previous file's.
        try Self.dropAppendingFiles(into: dataLoad, prefix: "a", count: 4)
        let recorder = Recorder()
        let store = try Store.openForWriting(path: folder.path("db.sqlite"))
        let pass = try Self.pipeline(store, dataLoad, groupSeconds: 3_600, observer: recorder).ingestPending()
        #expect(pass.outcomes.map(\.state) == [.loaded, .loaded, .loaded, .loaded])
        // The first file meets an empty silver and the second joins it; the second only
        // appended, so it ends the group, and so does each file after it.
        #expect(
            recorder.all.filter { $0 == .begins || $0 == .committed }
                == [.begins, .begins, .committed, .committed, .begins, .committed, .begins, .committed])
    }

    /// Writes `count` time-ordered event files named `prefix`-N (each after the previous one),
    /// modified in that order.
    static func dropAppendingFiles(into folder: String, prefix: String, count: Int, from: Int = 0) throws {
        for index in 0..<count {
            let lines = (0..<200).map { i in
                let stamp = Timestamps.formatUTC(Int64(1_713_000_000 + (from + index) * 10_000 + i * 7))
                return
                    #"{"event_type": "pause", "user_id": "u_\#(i % 13)", "episode_id": "ep_1", "timestamp": "\#(stamp)"}"#
            }
            let path = folder + "/\(prefix)-\(index).ndjson"
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSince1970: 1_700_000_000 + Double(from + index) * 60)],
                ofItemAtPath: path)
        }
    }

    /// A drop folder of `files` time-ordered files (a-0 …) and a store whose every commit is
    /// past its WAL bound of one frame: each would wait for its checkpoint.
    static func waitingAtEveryCommit(_ folder: TemporaryFolder, files: Int) throws
        -> (dataLoad: String, store: Store, checkpointer: WALCheckpointer)
    {
        let dataLoad = try folder.folder("in")
        try dropAppendingFiles(into: dataLoad, prefix: "a", count: files)
        let store = try Store.openForWriting(path: folder.path("db.sqlite"), checkpointWaitFrames: 1)
        return (dataLoad, store, try #require(store.checkpointer))
    }

    @Test func theCommitThatEndsAPassLeavesTheCheckpointToRunBesideWhatFollows() throws {
        let folder = try TemporaryFolder("group-pass-end")
        defer { folder.remove() }
        let (dataLoad, store, checkpointer) = try Self.waitingAtEveryCommit(folder, files: 4)
        let before = checkpointer.commitsThatWaited
        let recorder = Recorder()
        let pass = try Self.pipeline(store, dataLoad, groupSeconds: 3_600, observer: recorder).ingestPending()
        #expect(pass.outcomes.map(\.state) == [.loaded, .loaded, .loaded, .loaded])
        // Three transactions (a-0 with a-1, a-2, a-3: see the test above); the last ends the
        // pass and does not wait.
        #expect(
            recorder.all.filter { $0 == .begins || $0 == .committed }
                == [.begins, .begins, .committed, .committed, .begins, .committed, .begins, .committed])
        #expect(checkpointer.commitsThatWaited == before + 2)
        // The next commit waits again.
        try store.pool.write { db in try db.execute(sql: "CREATE TABLE after_the_pass (x)") }
        #expect(checkpointer.commitsThatWaited == before + 3)

        // A pass of one file (its own transaction) ends with it too.
        try Self.dropAppendingFiles(into: dataLoad, prefix: "b", count: 1, from: 4)
        let alone = try Self.pipeline(store, dataLoad, groupSeconds: 3_600, observer: Recorder())
            .ingestPending()
        #expect(alone.outcomes.map(\.state) == [.loaded])
        #expect(checkpointer.commitsThatWaited == before + 3)
        // One transaction per file: every file but the pass's last waits.
        try Self.dropAppendingFiles(into: dataLoad, prefix: "c", count: 3, from: 5)
        let single = try Self.pipeline(store, dataLoad, groupSeconds: 0, observer: Recorder()).ingestPending()
        #expect(single.outcomes.map(\.state) == [.loaded, .loaded, .loaded])
        #expect(checkpointer.commitsThatWaited == before + 5)
        let events = try store.pool.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM silver_event")
        }
        #expect(events == 8 * 200)
    }

    /// Groups that run out of time with files left: the first commits without waiting for
    /// its checkpoint (it copies beside the next group's load), the next one waits, and so on;
    /// the pass's last goes on. Before, each such commit waited for the whole copy.
    @Test func ofTwoGroupsOutOfTimeInARowTheSecondWaits() throws {
        let folder = try TemporaryFolder("group-out-of-time")
        defer { folder.remove() }
        let dataLoad = try folder.folder("in")
        // users.csv, then a–d: each file spans the others' times, so no group ends because a
        // file only appended; every group runs out of time after its first file.
        try Self.drop(into: dataLoad)
        let store = try Store.openForWriting(path: folder.path("db.sqlite"), checkpointWaitFrames: 1)
        let checkpointer = try #require(store.checkpointer)
        let before = checkpointer.commitsThatWaited
        let recorder = Recorder()
        let pass = try Self.pipeline(store, dataLoad, groupSeconds: 1e-9, observer: recorder).ingestPending()
        #expect(pass.outcomes.map(\.state) == [.loaded, .loaded, .loaded, .loaded, .loaded])
        #expect(recorder.all.filter { $0 == .committed }.count == 5)
        // users.csv goes on, a waits, b goes on, c waits, d ends the pass and goes on.
        #expect(checkpointer.commitsThatWaited == before + 2)
        #expect(checkpointer.owesAWait)
        // The same rows as one transaction per file.
        let alone = try Store.openForWriting(path: folder.path("alone.sqlite"))
        _ = try Self.pipeline(alone, dataLoad, groupSeconds: 0, observer: Recorder()).ingestPending()
        #expect(try Self.snapshot(folder.path("db.sqlite")) == Self.snapshot(folder.path("alone.sqlite")))
    }

    @Test func goldsFullRebuildRunsBesideThePassCheckpointAndAnIncrementalRefreshWaitsFirst() throws {
        let folder = try TemporaryFolder("group-pass-end-gold")
        defer { folder.remove() }
        let (dataLoad, store, checkpointer) = try Self.waitingAtEveryCommit(folder, files: 2)
        let writer = TestWriter(
            store: store, settings: PipelineSettings(dataLoad: dataLoad, groupSeconds: 3_600),
            logger: Logger(label: "test"))
        let before = checkpointer.commitsThatWaited
        // One group (a-0 with a-1) ends the pass without waiting; the full rebuild does not
        // take the wait it owes, and its own commit waits.
        let fresh = try writer.runOnce()
        #expect(fresh.outcomes.map(\.state) == [.loaded, .loaded])
        #expect(fresh.gold?.mode == .full)
        #expect(checkpointer.commitsThatWaited == before + 1)
        // A file onto it: the incremental refresh first waits for the file's checkpoint.
        try Self.dropAppendingFiles(into: dataLoad, prefix: "b", count: 1, from: 2)
        let next = try writer.runOnce()
        #expect(next.outcomes.map(\.state) == [.loaded])
        #expect(next.gold?.mode == .incremental)
        #expect(checkpointer.commitsThatWaited == before + 3)
    }

    @Test func aFailedFileRollsItsGroupBackAndTheFilesLoadOneByOne() throws {
        let folder = try TemporaryFolder("group-fail")
        defer { folder.remove() }
        let dataLoad = try folder.folder("in")
        try Self.drop(into: dataLoad)
        let path = folder.path("db.sqlite")
        let reference = folder.path("reference.sqlite")
        _ = try Self.pipeline(
            try Store.openForWriting(path: reference), dataLoad, groupSeconds: 0, observer: Recorder()
        ).ingestPending()

        // c.ndjson fails as its final ledger row is written (a transient error, as a full
        // disk would be): its group is rolled back.
        let store = try Store.openForWriting(path: path)
        let trigger = try failAtLedgerRow(of: "c.ndjson", store)
        let recorder = Recorder()
        let pass = try Self.pipeline(store, dataLoad, groupSeconds: 3_600, observer: recorder).ingestPending()
        #expect(pass.outcomes.map(\.name) == ["users.csv"] + Self.names)
        #expect(pass.outcomes.map(\.state) == [.loaded, .loaded, .loaded, .failed, .loaded])
        #expect(recorder.all.filter { $0 == .groupRolledBack }.count == 1)
        let states = try DatabaseQueue(path: path).read { db in
            try Row.fetchAll(db, sql: "SELECT name, state FROM ingest_file ORDER BY file_id")
                .map { "\($0[0] as String) \($0[1] as String)" }
        }
        #expect(
            states == [
                "users.csv loaded", "a.ndjson loaded", "b.ndjson loaded", "c.ndjson failed",
                "d.ndjson loaded",
            ])
        // Nothing of c, nothing twice; the next pass loads c, and silver holds every event once.
        let silver = try DatabaseQueue(path: path).read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM silver_event") ?? -1
        }
        #expect(silver == 902)  // a, b and d, with d's two events of c first seen there
        try store.pool.write { db in try db.execute(sql: "DROP TRIGGER \(trigger)") }
        let again = try Self.pipeline(store, dataLoad, groupSeconds: 3_600, observer: Recorder())
            .ingestPending()
        #expect(again.outcomes.map(\.name) == ["c.ndjson"])
        #expect(again.outcomes.map(\.state) == [.loaded])
        #expect(again.outcomes.first?.rowsLoaded == 298)  // two of its events came with d
        let keys = try DatabaseQueue(path: path).read { db in
            try Row.fetchAll(
                db, sql: "SELECT ts, user_id, episode_id, event_type FROM silver_event ORDER BY 1, 2, 3, 4"
            ).map { "\($0[0] as Int64) \($0[1] as String) \($0[2] as String) \($0[3] as String)" }
        }
        let referenceKeys = try DatabaseQueue(path: reference).read { db in
            try Row.fetchAll(
                db, sql: "SELECT ts, user_id, episode_id, event_type FROM silver_event ORDER BY 1, 2, 3, 4"
            ).map { "\($0[0] as Int64) \($0[1] as String) \($0[2] as String) \($0[3] as String)" }
        }
        #expect(keys == referenceKeys)
    }

    @Test func aStopMidGroupRollsTheGroupBackAndTheNextPassLoadsIt() throws {
        let folder = try TemporaryFolder("group-stop")
        defer { folder.remove() }
        let dataLoad = try folder.folder("in")
        try Self.drop(into: dataLoad, sizes: [300, 300, 12_000, 300])
        let path = folder.path("db.sqlite")
        let store = try Store.openForWriting(path: path)
        // The stop comes while the third event file (two 1 MiB chunks) is read.
        let recorder = Recorder()
        let pipeline = Pipeline(
            store: store, settings: PipelineSettings(dataLoad: dataLoad, groupSeconds: 3_600),
            logger: Logger(label: "test"),
            shouldStop: { recorder.all.filter { $0 == .begins }.count >= 3 }, observer: recorder)
        #expect(throws: PipelineError.interrupted) { try pipeline.ingestPending() }
        #expect(recorder.all.contains(.groupRolledBack))
        #expect(!recorder.all.contains(.committed))
        let recorded = try DatabaseQueue(path: path).read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM ingest_file") ?? -1
        }
        #expect(recorded == 0, "nothing of the group is kept")
        let again = try Self.pipeline(store, dataLoad, groupSeconds: 3_600, observer: Recorder())
            .ingestPending()
        #expect(again.outcomes.map(\.state) == [.loaded, .loaded, .loaded, .loaded, .loaded])
    }
}
