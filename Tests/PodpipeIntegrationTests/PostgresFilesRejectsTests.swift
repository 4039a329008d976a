import Foundation
import GRDB
import PodpipeSampleData
import Testing

@testable import PodpipeCore

/// `podpipectl files` and `podpipectl rejects` on PostgreSQL (issue 18) with the real
/// binaries against a real server: one drop folder of generated dirty data (every fault
/// kind, reference rows rejected, duplicates, the ledger's edge cases) loaded by
/// `podpiped --once` into SQLite and into PostgreSQL; every form of both commands must print
/// the same bytes, say the same on stderr and end with the same exit code on both.
@Suite("PostgreSQL files and rejects against a real server", .serialized)
struct PostgresFilesRejectsTests {
    @Test func everyFormPrintsWhatSQLitePrints() throws {
        let box = try Sandbox()
        let manifest = try SampleDataGenerator.write(PostgresInspectTests.spec, to: box.dataLoad)
        let server = try PostgresServer()
        defer { server.stop() }
        try PostgresInspectTests.loadBoth(box, server)

        // The same ledger: both engines number the files in the order they took them.
        let connection = try PostgresConnection(uri: server.uri)
        let identity = "SELECT file_id, name, kind, sha256, state FROM ingest_file ORDER BY file_id"
        let sqliteLedger = try box.rows(identity).map { row in
            (0..<5).map { index -> String? in
                index == 0 ? (row[0] as Int64?).map(String.init) : row[index] as String?
            }
        }
        #expect(sqliteLedger.count >= 8)
        #expect(try connection.query(identity).rows == sqliteLedger)
        // The times are those of two runs (engine-specific by nature): PostgreSQL's rows take
        // SQLite's, so that the order (newest first) and --since are compared too.
        for row in try box.rows("SELECT file_id, started_at, finished_at, duration_ms FROM ingest_file") {
            let updated = try connection.query(
                "UPDATE ingest_file SET started_at = $2, finished_at = $3, duration_ms = $4 WHERE file_id = $1",
                [
                    (row["file_id"] as Int64?).map(String.init), row["started_at"], row["finished_at"],
                    (row["duration_ms"] as Int64?).map(String.init),
                ])
            #expect(updated.affected == 1)
        }
        let finished = try box.rows("SELECT finished_at FROM ingest_file ORDER BY finished_at, file_id")
            .compactMap { $0["finished_at"] as String? }
        let middle = finished[finished.count / 2]

        let rejectedFile = try #require(
            manifest.fileDetails.first { $0.kind == "events" && $0.rejected > 0 }?.name)
        let cleanFile = try #require(
            try box.query(
                "SELECT name FROM ingest_file WHERE rows_rejected = 0 ORDER BY file_id LIMIT 1",
                as: String.self))
        let referenceCode = try #require(
            try box.query(
                "SELECT error_codes FROM bronze_reference WHERE outcome = 'rejected' AND error_codes NOT LIKE '%,%' LIMIT 1",
                as: String.self))
        let eventCodes = manifest.expectedCodeCounts.filter { $0.value > 0 }.keys.sorted()
        #expect(eventCodes.count >= 5, "\(eventCodes)")
        let prefix = String(rejectedFile.prefix(while: { $0 != "." }))

        var runs: [[String]] = []
        for format in [[], ["--format", "csv"], ["--format", "json"]] {
            runs += [
                ["files"], ["files", "--state", "loaded"], ["files", "--state", "rejected"],
                ["files", "--state", "duplicate"], ["files", "--state", "failed"],
                ["files", "--kind", "events"], ["files", "--kind", "episodes"], ["files", "--kind", "users"],
                ["files", "--since", middle], ["files", "--since", "2099-01-01"], ["files", "--limit", "3"],
                ["files", "--limit", "0"],
                ["files", "--state", "rejected", "--kind", "events", "--since", "7d"],
                ["rejects"], ["rejects", "--limit", "0"], ["rejects", "--limit", "5"],
                ["rejects", "--file", rejectedFile, "--limit", "0"], ["rejects", "--file", cleanFile],
                ["rejects", "--code", referenceCode, "--limit", "0"],
                ["rejects", "--file", rejectedFile, "--code", eventCodes[0], "--limit", "0"],
                ["rejects", "--summary"], ["rejects", "--summary", "--file", rejectedFile],
                ["rejects", "--summary", "--code", eventCodes[1]],
                ["rejects", "--summary", "--file", rejectedFile, "--code", eventCodes[0]],
                // Refused on both, with the same message: an unknown file (with the ledger's
                // names that look like it), an unknown code.
                ["rejects", "--file", prefix], ["rejects", "--summary", "--file", "nope.ndjson"],
                ["rejects", "--code", "missing_userid"],
            ].map { $0 + format }
            runs += eventCodes.map { ["rejects", "--code", $0, "--limit", "0"] + format }
        }
        for args in runs {
            let sqlite = try box.ctl(args)
            let postgres = try PostgresInspectTests.ctl(server, box, args)
            #expect(postgres.status == sqlite.status, "\(args): \(sqlite.stderr) | \(postgres.stderr)")
            #expect(postgres.stderr == sqlite.stderr, "\(args)")
            #expect(postgres.stdout == sqlite.stdout, "\(args)")
            if postgres.stdout != sqlite.stdout {
                let a = sqlite.stdout.split(separator: "\n", omittingEmptySubsequences: false)
                let b = postgres.stdout.split(separator: "\n", omittingEmptySubsequences: false)
                if let index = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
                    Issue.record("\(args), first difference, line \(index): \(a[index]) | \(b[index])")
                } else {
                    Issue.record("\(args), lines: \(a.count) vs \(b.count)")
                }
            }
        }

        // The shell's completion of `rejects --file` reads the ledger's names from either.
        func completion(_ database: String) throws -> ProcessResult {
            try Binaries.run(
                "podpipectl",
                [
                    "---completion", "rejects", "--", "--file", "5", "2", "podpipectl", "rejects",
                    "--database",
                    database, "--file", "ev",
                ])
        }
        let completed = try completion(box.database)
        #expect(completed.stdout.contains(rejectedFile + "\n"), "\(completed.stdout)\(completed.stderr)")
        #expect(try completion(server.uri).stdout == completed.stdout)

        // What was compared is not empty: every state and kind, rejected rows of events and
        // of reference files, the summary's two tables, the refusals.
        let files = try #require(
            try jsonValue(try PostgresInspectTests.ctl(server, box, ["files", "--format", "json"]).stdout)
                as? [[String: Any]])
        #expect(files.count == sqliteLedger.count)
        #expect(Set(files.compactMap { $0["state"] as? String }) == ["loaded", "rejected", "duplicate"])
        #expect(Set(files.compactMap { $0["kind"] as? String }) == ["events", "episodes", "users"])
        let since = csvRows(
            try PostgresInspectTests.ctl(server, box, ["files", "--since", middle, "--format", "csv"]).stdout)
        #expect(since.count - 1 == finished.filter { $0 >= middle }.count)
        #expect(since.count > 1)
        let rejects = csvRows(
            try PostgresInspectTests.ctl(server, box, ["rejects", "--limit", "0", "--format", "csv"]).stdout)
        let rejectedRows = try #require(
            try box.query(
                """
                SELECT (SELECT count(*) FROM bronze_event WHERE outcome = 'rejected')
                     + (SELECT count(*) FROM bronze_reference WHERE outcome = 'rejected')
                """))
        #expect(rejects.count - 1 == rejectedRows)
        #expect(rejectedRows >= manifest.expectedRejectedEvents + manifest.referenceRejects.count)
        #expect(Set(rejects.dropFirst().map { $0[2] }).isSuperset(of: ["events"]))
        #expect(rejects.dropFirst().contains { $0[2] != "events" }, "reference rows too")
        let summary = try #require(
            try jsonValue(
                try PostgresInspectTests.ctl(server, box, ["rejects", "--summary", "--format", "json"]).stdout
            )
                as? [String: Any])
        #expect((summary["by_code"] as? [Any])?.count ?? 0 >= eventCodes.count)
        #expect((summary["by_file"] as? [Any])?.isEmpty == false)
        let unknown = try PostgresInspectTests.ctl(server, box, ["rejects", "--file", prefix])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("did you mean "), "\(unknown.stderr)")
        #expect(unknown.stderr.contains(rejectedFile), "\(unknown.stderr)")
    }

    /// Against a server that does not answer: the database error (70), the URI without its
    /// password, nothing refused as "not yet".
    @Test func anUnreachableServerIsADatabaseErrorWithoutThePassword() throws {
        let box = try Sandbox()
        let uri = "postgresql://podpipe:s3cret@127.0.0.1:1/db?connect_timeout=2"
        for command in [
            ["files"], ["rejects"], ["rejects", "--summary"], ["rejects", "--file", "a.ndjson"],
        ] {
            let result = try Binaries.run(
                "podpipectl",
                [command[0], "--database", uri, "--data-load", box.dataLoad] + command.dropFirst())
            #expect(result.status == PodpipeExit.databaseError, "\(command): \(result.stderr)")
            #expect(!result.stderr.contains("s3cret"))
            #expect(result.stderr.contains("127.0.0.1"), "\(result.stderr)")
            #expect(!result.stderr.contains("not yet"))
        }
    }
}
