import Foundation
import GRDB
import Logging
import Testing

@testable import PodpipeCore

/// A file's identity is its bytes as a kind (issue 14): bytes rejected as one kind do not
/// block the same bytes delivered again as the kind they are.
@Suite("ledger: a file's identity is its bytes read as a kind")
struct FileIdentityTests {
    /// A temporary drop folder and the writer over a fresh database beside it.
    static func drop() throws -> (TemporaryFolder, String, TestWriter) {
        let root = try TemporaryFolder("identity")
        let input = try root.folder("in")
        let writer = TestWriter(
            store: try root.store(), settings: PipelineSettings(dataLoad: input),
            logger: Logger(label: "test"))
        return (root, input, writer)
    }

    @Test func aUsersExportRejectedUnderAnEpisodesNameLoadsWhenRenamed() throws {
        let (root, input, writer) = try Self.drop()
        defer { root.remove() }
        let users = "user_id,signup_date,country\nu1,2024-01-01,DE\nu2,2024-01-02,FR\n"
        let misnamed = input + "/episodes-2024-05.csv"
        try Data(users.utf8).write(to: URL(fileURLWithPath: misnamed))
        let first = try writer.runOnce(refreshGold: false)
        #expect(first.outcomes.map(\.state) == [.rejected])

        try FileManager.default.moveItem(atPath: misnamed, toPath: input + "/users-2024-05.csv")
        let second = try writer.runOnce(refreshGold: false)
        #expect(second.outcomes.map(\.state) == [.loaded])
        #expect(second.outcomes.first?.rowsLoaded == 2)
        let count = try writer.store.pool.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM silver_user") ?? 0
        }
        #expect(count == 2)
    }

    @Test func theSameBytesAsTheSameKindAreStillADuplicate() throws {
        let (root, input, writer) = try Self.drop()
        defer { root.remove() }
        let users = "user_id,signup_date,country\nu1,2024-01-01,DE\n"
        try Data(users.utf8).write(to: URL(fileURLWithPath: input + "/users-a.csv"))
        #expect(try writer.runOnce(refreshGold: false).outcomes.map(\.state) == [.loaded])
        try Data(users.utf8).write(to: URL(fileURLWithPath: input + "/users-b.csv"))
        #expect(try writer.runOnce(refreshGold: false).outcomes.map(\.state) == [.duplicate])
    }

    /// `cp -p`, `rsync -t`, an archive extraction: new bytes of the same size written behind
    /// the same name with the old modification time kept. The ctime (and inode) tell.
    @Test func newBytesBehindAnUnchangedNameSizeAndMtimeAreRead() throws {
        let (root, input, writer) = try Self.drop()
        defer { root.remove() }
        let path = input + "/events-1.ndjson"
        let stamp = Date(timeIntervalSince1970: 1_700_000_000)
        func write(_ episode: String) throws {
            let line =
                #"{"event_type": "play", "user_id": "u1", "episode_id": "\#(episode)", "timestamp": "2024-02-01T10:00:00", "duration": 10}"#
            try Data((line + "\n").utf8).write(to: URL(fileURLWithPath: path))
            try FileManager.default.setAttributes([.modificationDate: stamp], ofItemAtPath: path)
        }
        try write("ep_1")
        #expect(try writer.runOnce(refreshGold: false).outcomes.map(\.state) == [.loaded])
        let listing = try DropFolder.list(input)
        #expect(try writer.pending(in: listing, now: Date(), ignoreBackoff: false).isEmpty)

        // Same size, same mtime, other bytes (ep_2 instead of ep_1).
        try write("ep_2")
        let again = try DropFolder.list(input)
        #expect(again.candidates.first?.size == listing.candidates.first?.size)
        #expect(again.candidates.first?.mtimeNs == listing.candidates.first?.mtimeNs)
        #expect(try writer.pending(in: again, now: Date(), ignoreBackoff: false).count == 1)
        let second = try writer.runOnce(refreshGold: false)
        #expect(second.outcomes.map(\.state) == [.loaded])
        let episodes = try writer.store.pool.read { db in
            try String.fetchAll(db, sql: "SELECT episode_id FROM silver_event ORDER BY episode_id")
        }
        #expect(episodes == ["ep_1", "ep_2"])
        // Settled again: nothing pending.
        #expect(try writer.pending(in: DropFolder.list(input), now: Date(), ignoreBackoff: false).isEmpty)
    }

    /// Only the attributes changed (chmod): hashed once, found unchanged, settled.
    @Test func aFileWhoseAttributesChangedIsSettledWithoutLoading() throws {
        let (root, input, writer) = try Self.drop()
        defer { root.remove() }
        let path = input + "/events-1.ndjson"
        let line =
            #"{"event_type": "play", "user_id": "u1", "episode_id": "e1", "timestamp": "2024-02-01T10:00:00", "duration": 10}"#
        try Data((line + "\n").utf8).write(to: URL(fileURLWithPath: path))
        #expect(try writer.runOnce(refreshGold: false).outcomes.map(\.state) == [.loaded])
        usleep(20_000)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        #expect(try writer.pending(in: DropFolder.list(input), now: Date(), ignoreBackoff: false).count == 1)
        #expect(try writer.runOnce(refreshGold: false).outcomes.isEmpty)
        #expect(try writer.pending(in: DropFolder.list(input), now: Date(), ignoreBackoff: false).isEmpty)
    }
}
