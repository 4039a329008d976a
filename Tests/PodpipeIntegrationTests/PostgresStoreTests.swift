import Foundation
import GRDB
import Logging
import Synchronization
import Testing

@testable import PodpipeCore

/// The PostgreSQL schema and its migration runner (issue 18) against a real server.
@Suite("PostgreSQL store: schema migrations against a real server", .serialized)
struct PostgresStoreTests {
    @Test func migratesAFreshServerOnceAndAgainIdempotently() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let logger = Logger(label: "test")
        let first = try PostgresStore.open(uri: server.uri, logger: logger)
        let applied = try first.connection.query(
            "SELECT identifier FROM podpipe_migrations ORDER BY identifier"
        ).rows.compactMap { $0.first ?? nil }
        #expect(applied == PostgresMigrations.files().map(\.0))
        #expect(applied.first == "0001_ledger_bronze_silver")
        // A second open (another host starting later) applies nothing and keeps the rows.
        try first.connection.query(
            "INSERT INTO pipeline_state (key, value) VALUES ('silver.generation', '3')")
        #expect(try PostgresMigrations.migrate(first.connection).isEmpty)
        let second = try PostgresStore.open(uri: server.uri, logger: logger)
        #expect(
            try second.connection.query("SELECT count(*) FROM podpipe_migrations").scalar
                == String(applied.count))
        #expect(
            try second.connection.query("SELECT value FROM pipeline_state WHERE key = 'silver.generation'")
                .scalar == "3")
    }

    @Test func hostsStartingAtOnceMigrateOnce() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let uri = server.uri
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            do {
                _ = try PostgresStore.open(uri: uri, logger: Logger(label: "test"))
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
        let connection = try PostgresConnection(uri: uri)
        #expect(
            try connection.query("SELECT count(*) FROM podpipe_migrations").scalar
                == String(PostgresMigrations.files().count))
    }

    @Test func aDatabaseOfANewerPodpipeIsRefused() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let store = try PostgresStore.open(uri: server.uri, logger: Logger(label: "test"))
        try store.connection.query(
            "INSERT INTO podpipe_migrations (identifier, applied_at) VALUES ('9999_from_the_future', 'x')")
        #expect {
            _ = try PostgresStore.open(uri: server.uri, logger: Logger(label: "test"))
        } throws: { error in
            guard case .schemaTooNew(_, let unknown) = error as? StoreError else { return false }
            return unknown == ["9999_from_the_future"]
        }
        #expect(
            PodpipeExit.code(for: StoreError.schemaTooNew(path: "x", unknown: []))
                == PodpipeExit.databaseError)
    }

    /// The tables the ingest writes keep SQLite's names and columns, so analysts' SQL carries
    /// over (PostgreSQL adds `host` and `data_load` to the ledger and keys `daemon_state` by host).
    @Test func theIngestTablesHaveSQLitesColumns() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let store = try PostgresStore.open(uri: server.uri, logger: Logger(label: "test"))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "podpipe-pgcols-\(UUID().uuidString.prefix(8))"
        ).path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let sqlite = try Store.openForWriting(path: folder + "/podpipe.db")
        let tables = [
            "ingest_file", "bronze_event", "bronze_reference", "silver_event", "silver_episode",
            "silver_user", "pipeline_state", "daemon_state", "ingest_ack",
        ]
        for table in tables {
            let sqliteColumns = Set(try sqlite.pool.read { db in try db.columns(in: table).map(\.name) })
            let postgresColumns = Set(
                try store.connection.query(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = $1", [table]
                ).rows.compactMap { $0.first ?? nil })
            let added: Set<String> =
                switch table {
                case "ingest_file": ["host", "data_load"]
                default: []
                }
            let dropped: Set<String> =
                switch table {
                case "daemon_state": ["id"]
                case "silver_event": ["key_hash"]  // SQLite's index slot (SilverKeySlot.swift)
                default: []
                }
            #expect(postgresColumns == sqliteColumns.union(added).subtracting(dropped), "\(table)")
        }
    }
}
