import Foundation
import GRDB
import Logging
import PodpipeSampleData
import Synchronization
import Testing

@testable import PodpipeCore

#if canImport(Glibc)
    import Glibc
#endif

/// The ingest into PostgreSQL (issue 18) with the real binaries against a real server:
/// the same answers as SQLite, the same bytes on two hosts loaded once, a kill -9 mid-file,
/// the server restarted under a running daemon.
@Suite("PostgreSQL ingest: podpiped against a real server", .serialized)
struct PostgresIngestTests {
    /// `podpiped --once` on a folder into `uri`.
    static func once(_ folder: String, _ uri: String, env: [String: String] = [:]) throws -> ProcessResult {
        try Binaries.run(
            "podpiped", ["--once", "--data-load", folder, "--database", uri], env: env, timeout: 300)
    }

    /// Text of a value as both dumps write it: NULL as ∅, NUL as U+FFFD (PostgreSQL's text
    /// holds no NUL, and invalid UTF-8 is stored as U+FFFD on both sides of the compare).
    static func text(_ value: String?) -> String {
        guard let value else { return "∅" }
        return value.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}")
    }

    /// The tables the ingest writes, row by row, ids replaced by the file's name: the same
    /// SQL on both engines.
    static let dumpQueries: [(String, String)] = [
        (
            "ledger",
            """
            SELECT f.name, f.kind, f.sha256, f.state, f.rows_read, f.rows_loaded, f.rows_rejected,
                   f.rows_duplicate, f.first_error, f.first_error_line, f.message, d.name, p.name,
                   f.bronze_last_id - f.bronze_first_id
            FROM ingest_file AS f
            LEFT JOIN ingest_file AS d ON d.file_id = f.duplicate_of
            LEFT JOIN ingest_file AS p ON p.file_id = f.previous_version
            """
        ),
        (
            "bronze_event",
            """
            SELECT f.name, b.line_no, RAW, b.outcome, b.error_codes
            FROM bronze_event AS b JOIN ingest_file AS f ON f.file_id = b.file_id
            """
        ),
        (
            "bronze_reference",
            """
            SELECT f.name, b.line_no, b.kind, b.raw, b.fields, b.outcome, b.error_codes
            FROM bronze_reference AS b JOIN ingest_file AS f ON f.file_id = b.file_id
            """
        ),
        (
            "silver_event",
            """
            SELECT s.ts, s.user_id, s.episode_id, s.event_type, s.duration, f.name, s.line_no
            FROM silver_event AS s JOIN ingest_file AS f ON f.file_id = s.file_id
            """
        ),
        (
            "silver_episode",
            """
            SELECT s.episode_id, s.podcast_id, s.title, s.release_date, s.duration_seconds, f.name,
                   s.line_no, s.order_mtime_ns, s.order_name
            FROM silver_episode AS s JOIN ingest_file AS f ON f.file_id = s.file_id
            """
        ),
        (
            "silver_user",
            """
            SELECT s.user_id, s.signup_date, s.country, f.name, s.line_no, s.order_mtime_ns, s.order_name
            FROM silver_user AS s JOIN ingest_file AS f ON f.file_id = s.file_id
            """
        ),
    ]

    static func dump(sqlite path: String) throws -> [String] {
        let db = try DatabaseQueue(path: path)
        return try db.read { db in
            var lines: [String] = []
            for (table, sql) in dumpQueries {
                for row in try Row.fetchAll(
                    db, sql: sql.replacingOccurrences(of: "RAW", with: "CAST(b.raw AS BLOB)"))
                {
                    let values = row.databaseValues.map { value -> String in
                        switch value.storage {
                        case .null: "∅"
                        case .int64(let number): String(number)
                        case .double(let number): String(number)
                        case .string(let string): text(string)
                        case .blob(let data): text(String(decoding: data, as: UTF8.self))
                        }
                    }
                    lines.append(table + "|" + values.joined(separator: "|"))
                }
            }
            return lines.sorted()
        }
    }

    static func dump(postgres uri: String) throws -> [String] {
        let connection = try PostgresConnection(uri: uri)
        var lines: [String] = []
        for (table, sql) in dumpQueries {
            for row in try connection.query(sql.replacingOccurrences(of: "RAW", with: "b.raw")).rows {
                lines.append(table + "|" + row.map(text).joined(separator: "|"))
            }
        }
        return lines.sorted()
    }

    static func expectSame(_ sqlite: [String], _ postgres: [String]) {
        #expect(sqlite.count == postgres.count)
        let onlySQLite = Set(sqlite).subtracting(postgres).sorted()
        let onlyPostgres = Set(postgres).subtracting(sqlite).sorted()
        #expect(onlySQLite.isEmpty, "only in SQLite: \(onlySQLite.prefix(5))")
        #expect(onlyPostgres.isEmpty, "only in PostgreSQL: \(onlyPostgres.prefix(5))")
    }

    @Test func onceIntoPostgresGivesWhatSQLiteGives() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let box = try Sandbox()
        let manifest = try SampleDataGenerator.write(ctlSpec(edgeCases: true), to: box.dataLoad)
        let sqlite = try box.podpiped()
        #expect(sqlite.status == 0, "\(sqlite.stderr)")
        let postgres = try Self.once(box.dataLoad, server.uri)
        #expect(postgres.status == 0, "\(postgres.stderr)")
        let expected = try Self.dump(sqlite: box.database)
        #expect(expected.contains { $0.hasPrefix("ledger|") && $0.contains("|duplicate|") })
        #expect(expected.filter { $0.hasPrefix("silver_event|") }.count == manifest.expectedSilverEvents)
        Self.expectSame(expected, try Self.dump(postgres: server.uri))

        // A second pass settles everything: nothing is loaded again.
        let again = try Self.once(box.dataLoad, server.uri)
        #expect(again.status == 0, "\(again.stderr)")
        Self.expectSame(expected, try Self.dump(postgres: server.uri))

        // Reference updates after the first load: a newer users export and an older
        // episodes export arriving late (ReferenceOrder), on both engines.
        let later = Date().timeIntervalSince1970
        try box.drop("users-update.csv", "user_id,signup_date,country\nu_late,2024-02-01,FR\n", mtime: later)
        #expect(try box.podpiped().status == 0)
        #expect(try Self.once(box.dataLoad, server.uri).status == 0)
        Self.expectSame(try Self.dump(sqlite: box.database), try Self.dump(postgres: server.uri))
    }

    @Test func theSameBytesOnTwoHostsLoadOnce() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let first = try Sandbox()
        let second = try Sandbox()
        // Valid events (their silver rows already make the second host wait for the first),
        // and files whose every line is rejected: nothing goes to silver, so only the claim
        // on the bytes (the advisory lock and the unique index) keeps them from loading twice.
        let rejectedLines = (0..<20_000).map { #"{"event_type": "bogus", "user_id": "u\#($0)"}"# + "\n" }
        let files =
            (0..<6).map { index in (name: "events-\(index).ndjson", text: eventLines(2_000, seed: index)) }
            + (0..<2).map { index in
                (name: "events-bad-\(index).ndjson", text: "{\"n\": \(index)}\n" + rejectedLines.joined())
            }
        for (index, file) in files.enumerated() {
            try first.drop(file.name, file.text, mtime: 1_700_000_000 + Double(index))
            // The other host's copy under another name, so that only the bytes tell.
            try second.drop("copy-" + file.name, file.text, mtime: 1_700_000_000 + Double(index))
        }
        let uri = server.uri
        let folders = [first.dataLoad, second.dataLoad]
        let results = Mutex<[ProcessResult]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let result = try? Self.once(folders[index], uri)
            results.withLock {
                $0.append(result ?? ProcessResult(status: -1, stdout: "", stderr: "did not run"))
            }
        }
        for result in results.withLock({ $0 }) { #expect(result.status == 0, "\(result.stderr)") }
        let connection = try PostgresConnection(uri: uri)
        let states = try connection.query(
            "SELECT sha256, string_agg(state, ',' ORDER BY state) FROM ingest_file GROUP BY sha256"
        ).rows
        #expect(states.count == files.count)
        for row in states { #expect(row[1] == "duplicate,loaded", "\(row)") }
        #expect(try connection.query("SELECT count(*) FROM silver_event").scalar == "12000")
        #expect(
            try connection.query("SELECT count(*) FROM bronze_event").scalar == String(12_000 + 2 * 20_001))
        // Each loaded file's bronze rows have consecutive ids: the ledger's range holds them.
        let ranges = try connection.query(
            """
            SELECT count(*) FROM ingest_file AS f
            WHERE f.state = 'loaded' AND f.bronze_last_id - f.bronze_first_id + 1 = f.rows_read
              AND (SELECT count(*) FROM bronze_event AS b
                   WHERE b.bronze_id BETWEEN f.bronze_first_id AND f.bronze_last_id AND b.file_id = f.file_id)
                  = f.rows_read
            """
        ).scalar
        #expect(ranges == String(files.count))
        #expect(
            try connection.query("SELECT count(DISTINCT host || data_load) FROM ingest_file").scalar == "2")
    }

    /// The claim on bytes, step by step on two connections (two hosts): the second host's
    /// look-up of the same bytes waits on the first's open transaction (an advisory lock on
    /// kind and digest, not a row either could see), then finds its committed row.
    @Test func aSecondHostWaitsForTheFirstsClaimOnTheSameBytes() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let logger = Logger(label: "test")
        let first = try PostgresStore.open(uri: server.uri, logger: logger)
        let second = try PostgresStore.open(uri: server.uri, logger: logger)
        let entry = LedgerEntry(
            fileId: nil, name: "events-a.ndjson", kind: .events, sha256: "", sizeBytes: 10,
            mtime: "2024-01-01T00:00:00Z", mtimeNs: 1, state: .loaded, startedAt: "2024-01-01T00:00:00Z",
            finishedAt: "2024-01-01T00:00:00Z")
        let sha = String(repeating: "ab", count: 32)
        try first.connection.execute("BEGIN")
        var hostA = PostgresIngestSession(
            connection: first.connection, scope: LedgerScope(host: "a", dataLoad: "/srv/a"))
        var claimed = entry
        claimed.fileId = try hostA.claim(entry).fileId
        claimed.sha256 = sha
        #expect(try hostA.knownBytes(sha256: sha, kind: .events, other: claimed.fileId ?? 0) == nil)

        /// Written by the thread before it signals `done`, read after the wait.
        final class Answer: @unchecked Sendable { var text = "" }
        let answer = Answer()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            var text = "nothing"
            do {
                try second.connection.execute("BEGIN")
                var hostB = PostgresIngestSession(
                    connection: second.connection, scope: LedgerScope(host: "b", dataLoad: "/srv/b"))
                var copy = entry
                copy.name = "copy.ndjson"
                let fileId = try hostB.claim(copy).fileId
                switch try hostB.knownBytes(sha256: sha, kind: .events, other: fileId) {
                case .elsewhere(let original): text = "elsewhere \(original.name)"
                case .ledger(let original): text = "ledger \(original.name)"
                case .earlierInRun(let name): text = "earlier \(name)"
                case nil: text = "nothing"
                }
                try second.connection.execute("ROLLBACK")
            } catch {
                text = "\(error)"
            }
            answer.text = text
            done.signal()
        }
        thread.start()
        // The second host waits on the advisory lock the first holds.
        let observer = try PostgresConnection(uri: server.uri)
        #expect(
            eventually {
                (try? observer.query(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                )
                .scalar) == "1"
            })
        try hostA.record(claimed)
        try first.connection.execute("COMMIT")
        done.wait()
        #expect(answer.text == "elsewhere events-a.ndjson")
    }

    @Test func aKillMidFileKeepsNothingOfItAndTheRerunLoadsItOnce() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let box = try Sandbox()
        try box.drop("events-a.ndjson", eventLines(3_000, seed: 1), mtime: 1_700_000_000)
        try box.drop("events-b.ndjson", eventLines(3_000, seed: 2), mtime: 1_700_000_100)
        // Killed while the second file's lines are being sent (after the first committed).
        let killed = try Self.once(box.dataLoad, server.uri, env: ["PODPIPE_CRASH_AT": "event-rows:4500"])
        #expect(killed.status != 0)
        let connection = try PostgresConnection(uri: server.uri)
        #expect(
            try connection.query("SELECT string_agg(name, ',') FROM ingest_file").scalar == "events-a.ndjson")
        #expect(try connection.query("SELECT count(*) FROM bronze_event").scalar == "3000")
        #expect(try connection.query("SELECT count(*) FROM silver_event").scalar == "3000")
        // Killed again just before the second file's COMMIT: still nothing of it.
        let beforeCommit = try Self.once(box.dataLoad, server.uri, env: ["PODPIPE_CRASH_AT": "ledger-commit"])
        #expect(beforeCommit.status != 0)
        #expect(try connection.query("SELECT count(*) FROM ingest_file").scalar == "1")
        #expect(try connection.query("SELECT count(*) FROM silver_event").scalar == "3000")
        let rerun = try Self.once(box.dataLoad, server.uri)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(
            try connection.query(
                "SELECT string_agg(name || ':' || state, ',' ORDER BY name) FROM ingest_file"
            ).scalar
                == "events-a.ndjson:loaded,events-b.ndjson:loaded")
        #expect(try connection.query("SELECT count(*) FROM bronze_event").scalar == "6000")
        #expect(try connection.query("SELECT count(*) FROM silver_event").scalar == "6000")
    }

    @Test func theDaemonRidesOutAServerRestart() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let box = try Sandbox()
        try box.drop("events-0.ndjson", eventLines(500, seed: 0), mtime: 1_700_000_000)
        let daemon = try DaemonProcess(
            box: box,
            arguments: ["--data-load", box.dataLoad, "--database", server.uri],
            env: [
                "PODPIPE_WATCH_MODE": "poll", "PODPIPE_WATCH_RESCAN_INTERVAL": "1",
                "PODPIPE_WATCH_SETTLE": "0",
                "PODPIPE_INGEST_RETRY_BACKOFF": "1",
            ])
        #expect(daemon.waitReady(), "\(daemon.stderr)")
        let connection = { try PostgresConnection(uri: server.uri, timeout: 5) }
        func count(_ sql: String) -> String? { try? connection().query(sql).scalar }
        #expect(eventually { count("SELECT count(*) FROM ingest_file WHERE state = 'loaded'") == "1" })
        #expect(eventually { count("SELECT count(*) FROM daemon_state WHERE state = 'running'") == "1" })

        server.crash()
        // Files arrive while the server is down.
        for index in 1...3 {
            try box.drop(
                "events-\(index).ndjson", eventLines(500, seed: index), mtime: 1_700_000_000 + Double(index))
        }
        #expect(eventually { daemon.stderr.contains("retrying") }, "\(daemon.stderr)")
        try server.start()
        #expect(
            eventually(timeout: 90) {
                count("SELECT count(*) FROM ingest_file WHERE state = 'loaded'") == "4"
            },
            "\(daemon.stderr)")
        #expect(count("SELECT count(*) FROM silver_event") == "2000")
        #expect(count("SELECT count(*) FROM bronze_event") == "2000")
        #expect(count("SELECT count(DISTINCT name) FROM ingest_file") == "4")
        #expect(daemon.stderr.contains("reconnected to PostgreSQL"))
        #expect(daemon.process.isRunning)
        #expect(daemon.stop()?.status == 0)
        #expect(count("SELECT state FROM daemon_state") == "stopped")
    }

    @Test func aURIIsNeverShownWithItsPassword() throws {
        let box = try Sandbox()
        let result = try Self.once(
            box.dataLoad, "postgresql://podpipe:s3cret@127.0.0.1:1/db?connect_timeout=2&sslmode=disable")
        #expect(result.status == PodpipeExit.databaseError, "\(result.stderr)")
        #expect(!result.stderr.contains("s3cret"))
        #expect(result.stderr.contains("podpipe:***@127.0.0.1"))
        #expect(!FileManager.default.fileExists(atPath: box.root.appendingPathComponent("postgresql:").path))
    }
}
