import Foundation
import Testing

@testable import PodpipeCore

@Suite("maintenance requests handed to the daemon (MaintenanceMailbox)")
struct MaintenanceMailboxTests {
    @Test func requestsAreAnsweredOldestFirstAndResultsTakenOnce() throws {
        let root = try TemporaryFolder("mailbox")
        defer { root.remove() }
        let database = root.path("db.sqlite")
        #expect(FileManager.default.createFile(atPath: database, contents: Data()))
        let mailbox = MaintenanceMailbox(database: database)
        let first = try mailbox.submit(.refresh(full: true), now: Date(timeIntervalSince1970: 1_000))
        let second = try mailbox.submit(
            .reprocess(names: ["a.ndjson", "b\u{1b}[2J.csv"], allVersions: false),
            now: Date(timeIntervalSince1970: 2_000))
        // Another name of the same file finds the same mailbox.
        let link = root.path("link.sqlite")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: database)
        let pending = MaintenanceMailbox(database: link).pending()
        #expect(pending.map(\.id) == [first, second])
        #expect(
            pending.map(\.command) == [
                .refresh(full: true), .reprocess(names: ["a.ndjson", "b\u{1b}[2J.csv"], allVersions: false),
            ])
        #expect(mailbox.isWaiting(first))
        #expect(mailbox.takeResult(first) == nil)

        let result = MaintenanceResult(exitCode: 0, text: "done", json: "{}")
        try mailbox.answer(first, result)
        #expect(!mailbox.isWaiting(first))
        #expect(mailbox.pending().map(\.id) == [second])
        #expect(mailbox.takeResult(first) == result)
        #expect(mailbox.takeResult(first) == nil)

        // Withdrawn before the daemon picked it up: never run.
        #expect(mailbox.withdraw(second))
        #expect(!mailbox.withdraw(second))
        #expect(mailbox.pending().isEmpty)
    }

    @Test func aRequestThatCannotBeReadIsAnsweredWithItsError() throws {
        let root = try TemporaryFolder("mailbox")
        defer { root.remove() }
        let database = root.path("db.sqlite")
        let mailbox = MaintenanceMailbox(database: database)
        let id = try mailbox.submit(.refresh(full: false))
        try Data("{\"not\": \"a command\"}".utf8).write(
            to: URL(fileURLWithPath: mailbox.directory + "/\(id).request"))
        #expect(mailbox.pending().isEmpty)
        let answer = try #require(mailbox.takeResult(id))
        #expect(answer.exitCode == PodpipeExit.filesFailed)
        #expect(answer.text.contains("cannot be read"))
    }

    @Test func aFailedCommandCarriesItsExitCodeAndMessage() {
        let result = MaintenanceResult(
            failure: MaintenanceError.unknownFiles(["nope.ndjson"], suggestions: []))
        #expect(result.exitCode == PodpipeExit.filesFailed)
        #expect(result.text.contains("not in the ledger: nope.ndjson"))
        #expect(result.json.contains("\"error\""))
    }
}
