import Foundation
import GRDB
import Logging
import Testing

@testable import PodpipeCore

/// A file's identity is its bytes as a kind (issue 14): bytes rejected as one kind do not
/// block the same bytes delivered again as the kind they are.
@Suite("ledger: a file's identity is its bytes read as a kind")
struct FileIdentityTests {
    @Test func aUsersExportRejectedUnderAnEpisodesNameLoadsWhenRenamed() throws {
        let root = try TemporaryFolder("identity")
        defer { root.remove() }
        let input = try root.folder("in")
        let writer = TestWriter(
            store: try root.store(), settings: PipelineSettings(dataLoad: input),
            logger: Logger(label: "test"))
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
        let root = try TemporaryFolder("identity")
        defer { root.remove() }
        let input = try root.folder("in")
        let writer = TestWriter(
            store: try root.store(), settings: PipelineSettings(dataLoad: input),
            logger: Logger(label: "test"))
        let users = "user_id,signup_date,country\nu1,2024-01-01,DE\n"
        try Data(users.utf8).write(to: URL(fileURLWithPath: input + "/users-a.csv"))
        #expect(try writer.runOnce(refreshGold: false).outcomes.map(\.state) == [.loaded])
        try Data(users.utf8).write(to: URL(fileURLWithPath: input + "/users-b.csv"))
        #expect(try writer.runOnce(refreshGold: false).outcomes.map(\.state) == [.duplicate])
    }
}
