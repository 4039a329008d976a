import Foundation
import Logging

/// The PostgreSQL store (issue 18): a connection to the server with the schema migrated.
/// The read side opens it like SQLite's ``Store``; the writer's ingest runs over it through
/// ``IngestStore`` (one PostgreSQL transaction per file, ``PostgresIngestSession``).
///
/// One thread uses it at a time (the writer's). A connection the server dropped (a restart,
/// the network, a deadline of ours) is replaced at the next call: the transaction it held is
/// gone, never half-applied, and the pass that failed is retried with backoff.
final class PostgresStore: @unchecked Sendable {
    let uri: String
    /// The URI with any password hidden (for messages and logs).
    let shownLocation: String
    let logger: Logger
    /// The scope of this writer's names in the ledger (its host and drop folder); empty for
    /// a reader.
    var scope = LedgerScope(host: "", dataLoad: "")
    /// The writer's session-level advisory lock (``PostgresWriterSession``), taken again on
    /// every new connection (the server releases it with the connection it was taken on).
    var writerLock: PostgresLockKey.Text?
    /// The server process (`pg_backend_pid`) of the session that took ``writerLock`` last.
    private var lockBackend: Int32?
    private let timeout: Double
    private var current: PostgresConnection

    private init(uri: String, connection: PostgresConnection, logger: Logger, timeout: Double) {
        self.uri = uri
        self.current = connection
        self.shownLocation = connection.location
        self.logger = logger
        self.timeout = timeout
    }

    /// Connects to `uri` (a libpq URI; `PG*` variables and `~/.pgpass` apply) and applies
    /// the pending schema migrations (``PostgresMigrations``).
    static func open(uri: String, logger: Logger, timeout: Double = 30) throws -> PostgresStore {
        let connection = try PostgresConnection(uri: uri, timeout: timeout)
        let applied = try PostgresMigrations.migrate(connection)
        try PostgresCatalog.install(connection, force: !applied.isEmpty)
        if !applied.isEmpty {
            logger.info(
                "PostgreSQL schema migrated",
                metadata: [
                    "database": "\(connection.location)", "migrations": "\(applied.joined(separator: ","))",
                ])
        }
        return PostgresStore(uri: uri, connection: connection, logger: logger, timeout: timeout)
    }

    /// The connection as it is (it may have been dropped: see ``live()``).
    var connection: PostgresConnection { current }

    /// The connection, connected again if the server dropped it (and the writer's lock
    /// taken again on it).
    func live() throws -> PostgresConnection {
        if current.isOpen { return current }
        current.close()
        let fresh = try PostgresConnection(uri: uri, timeout: timeout)
        try takeWriterLock(fresh)
        current = fresh
        logger.notice("reconnected to PostgreSQL", metadata: ["database": "\(shownLocation)"])
        return current
    }

    /// Takes ``writerLock`` (if any) on `connection`, without waiting.
    ///
    /// A lost connection's server session may outlive it (the server notices a closed socket
    /// at once, a cut network only by TCP keepalive, hours later) and still hold the lock:
    /// when the holder is the session this store took it with (``lockBackend``, checked in
    /// `pg_locks` so that a reused pid is never ended), it is ended and the lock taken again.
    /// - Throws: ``PostgresWriterBusy`` when another session holds it.
    func takeWriterLock(_ connection: PostgresConnection) throws {
        guard let lock = writerLock else { return }
        let arguments = [String(lock.classId), lock.text]
        var taken = try connection.query("SELECT pg_try_advisory_lock($1, hashtext($2))", arguments).scalar
        if taken != "t", let previous = lockBackend {
            try connection.query(
                """
                SELECT pg_terminate_backend(pid, 10000) FROM pg_locks
                WHERE locktype = 'advisory' AND granted AND pid = $3 AND objsubid = 2
                  AND classid = ($1::int4)::oid AND objid = (hashtext($2))::oid
                """, arguments + [String(previous)], timeout: 15)
            taken = try connection.query("SELECT pg_try_advisory_lock($1, hashtext($2))", arguments).scalar
        }
        guard taken == "t" else {
            connection.close()
            throw PostgresWriterBusy(database: shownLocation, host: scope.host, folder: scope.dataLoad)
        }
        lockBackend = try connection.query("SELECT pg_backend_pid()").scalar.flatMap { Int32($0) }
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    /// A COMMIT whose reply is lost (the connection dropped) is resolved by `committed`,
    /// asked on a new connection: true when what `body` wrote is there (then it counts as
    /// committed); otherwise the error is thrown, nothing is written twice.
    func transaction<Result>(
        _ body: (PostgresConnection) throws -> Result,
        committed: ((Result, PostgresConnection) throws -> Bool)? = nil
    ) throws -> Result {
        let connection = try live()
        try connection.execute("BEGIN")
        let result: Result
        do {
            result = try body(connection)
        } catch {
            if connection.isOpen { _ = try? connection.execute("ROLLBACK") }
            throw error
        }
        do throws(PostgresError) {
            if FaultInjection.strikes(.commitReply) {
                try connection.sendLosingReply("COMMIT")
            } else {
                try connection.execute("COMMIT")
            }
        } catch {
            // The server answered (the connection is still up): the COMMIT was refused, the
            // transaction is rolled back. A lost connection (a deadline of ours, a reset, the
            // server's "terminating connection" or libpq's "server closed the connection
            // unexpectedly", both reported as statement errors) leaves it unknown.
            if case .statement = error, connection.isOpen {
                _ = try? connection.execute("ROLLBACK")
                throw error
            }
            // The reply is lost: the COMMIT may or may not have happened. Ask a new connection.
            guard let committed, let fresh = try? live(), (try? committed(result, fresh)) == true else {
                throw error
            }
            logger.warning(
                "the COMMIT's reply was lost; the transaction is found committed",
                metadata: ["database": "\(shownLocation)"])
        }
        return result
    }
}

extension PostgresStore: IngestStore {
    var location: String { shownLocation }

    /// Nothing to check: the server is the database (a dropped connection is replaced).
    func verifyStillOpen() throws {}

    func latestSettlements() throws -> [[UInt8]: LedgerSettlement] {
        try PostgresLedger.latestByName(scope, live())
    }

    func ingestFile(
        _ candidate: Candidate, with procedure: FileIngest, started: Date,
        observer: (any IngestObserver)?, endsPass: Bool
    ) throws -> FileIngestResult {
        let scope = scope
        return try transaction(
            { connection in
                var session = PostgresIngestSession(connection: connection, scope: scope)
                return try procedure.run(candidate, started: started, session: &session)
            },
            committed: { result, connection in
                if let original = result.original {
                    // Unchanged: the original now carries this file's times.
                    return try PostgresLedger.latestSettled(named: original.name, scope, connection)?.mtimeNs
                        == result.entry.mtimeNs
                }
                return try PostgresLedger.isRecorded(result.entry, connection)
            })
    }

    func recordFailure(_ candidate: Candidate, message: String, started: Date, backoff: Double)
        throws -> LedgerEntry
    {
        let scope = scope
        return try transaction { connection in
            try PostgresLedger.recordFailure(
                candidate, message: message, started: started, backoff: backoff, scope, connection)
        }
    }
}

/// Another podpiped writes this host's drop folder into the database (it holds the
/// advisory lock of (host, folder)). Exit 75, as SQLite's `PipelineError.anotherWriter`.
struct PostgresWriterBusy: Error, CustomStringConvertible, Equatable, ExitCoded {
    var database: String
    var host: String
    var folder: String

    var description: String {
        "another podpipe writer on host \(host) is loading the drop folder \(folder) into \(database): one podpiped or podpiped --once per host and folder at a time. Wait for it to finish or stop the daemon."
    }

    var exitCode: Int32 { PodpipeExit.anotherWriter }
}
