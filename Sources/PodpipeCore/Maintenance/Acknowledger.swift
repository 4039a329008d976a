import Foundation
import GRDB

/// What `podpipectl ack` did.
public struct AckSummary: Sendable, Codable, Equatable {
    /// The rows acknowledged now.
    var acknowledged: [LedgerProblem] = []
    /// Rows of the names given that were acknowledged before.
    var alreadyAcknowledged: [LedgerProblem] = []
    /// Names given that have no rejected or failed row (nothing to acknowledge).
    var nothingToAcknowledge: [String] = []
    /// How the write reached the database: `writer_lock` (no writer ran: ack took the lock)
    /// or `beside_writer` (a daemon or a `--once` pass holds it: a short transaction of its
    /// own; see ``Acknowledger``).
    var via: String = ""

    enum CodingKeys: String, CodingKey {
        case acknowledged, via
        case alreadyAcknowledged = "already_acknowledged"
        case nothingToAcknowledge = "nothing_to_acknowledge"
    }

    public func json() -> String { JSONText.pretty(self) }

    /// One line per row; names are escaped by the caller's terminal rule (``TerminalText``).
    public func text() -> String {
        var lines: [String] = []
        for row in acknowledged {
            lines.append(
                "acknowledged \(row.name) (\(row.state.rawValue), file \(row.fileId), \(row.finishedAt))")
        }
        for row in alreadyAcknowledged {
            lines.append("already acknowledged \(row.name) (\(row.state.rawValue), file \(row.fileId))")
        }
        for name in nothingToAcknowledge {
            lines.append("nothing to acknowledge for \(name): no rejected or failed version")
        }
        if lines.isEmpty { lines.append("nothing to acknowledge: no rejected or failed file") }
        return lines.map { TerminalText.escape($0) }.joined(separator: "\n")
    }
}

/// `podpipectl ack`: acknowledges the `rejected` and `failed` rows of names (or all of
/// them), so that `status` stops counting them (``HealthRules``).
///
/// The acknowledgement is a write, and the daemon is the database's one writer. When no
/// writer runs, `ack` takes the writer lock like the other maintenance commands. When one
/// runs (the daemon, a `--once` pass), `ack` writes beside it, in one short transaction on
/// a connection of its own, rather than handing the request to the daemon (which would
/// need a request channel with arguments, and a reply, for a one-row insert):
/// - the two cannot conflict: only `ack` writes `ingest_ack`, and the writer never reads
///   it; the rows an ack reads (`ingest_file`) are read in the same transaction that
///   writes it, so it acknowledges them as committed at that instant;
/// - SQLite serializes the two: the ack's transaction takes microseconds, and the
///   writer's connection waits for it (its busy timeout is 5 s) instead of failing; the
///   ack waits up to ``besideWriterTimeout`` for the file or refresh in progress, then
///   refuses (exit 75) and says to try again;
/// - the writer's own invariants hold: no gold, silver or ledger row changes, the WAL
///   checkpoints stay the writer's (a committed ack is in the WAL like any commit), and
///   no immutable reader can exist while a writer holds the lock (it would need the lock's
///   shared side).
///
/// On PostgreSQL (a server with many writers, one per host and folder) there is no writer
/// lock to take: `ack` is always one transaction of its own beside the writers (`via`:
/// `beside_writer`), with the same reads and the same write through the read seam; the
/// server serializes it with the writers' row locks (only `ack` writes `ingest_ack`). A
/// name there is every host's and folder's row of that name.
public enum Acknowledger {
    /// How long `ack` waits for the writer's transaction in progress.
    static let besideWriterTimeout: TimeInterval = 30

    /// Acknowledges every `rejected` and `failed` row of `names` not yet acknowledged
    /// (nil: of every name).
    ///
    /// - Throws: ``MaintenanceError/unknownFiles(_:suggestions:)`` for a name not in the
    ///   ledger (nothing is written); ``AckError`` when the write cannot be made beside the
    ///   running writer; `StoreError` for a missing or foreign database.
    public static func run(names: [String]?, database: String, now: Date = Date()) throws -> AckSummary {
        if case .postgresql(let uri) = DatabaseLocation(database) {
            var summary = try onPostgres(names: names, connection: try PostgresConnection(uri: uri), now: now)
            summary.via = "beside_writer"
            return summary
        }
        // The read-only checks first: a missing, foreign or newer database is refused
        // before anything is opened for writing.
        _ = try Store.openForReading(path: database)
        do {
            let session = try WriterSession.forMaintenance(database: database, command: "ack")
            var summary = try session.store.pool.write { db in try acknowledge(names: names, now: now, db) }
            summary.via = "writer_lock"
            return summary
        } catch MaintenanceError.writerBusy {
            var summary = try besideWriter(names: names, database: database, now: now)
            summary.via = "beside_writer"
            return summary
        }
    }

    /// The write next to a running writer (see the type's comment).
    static func besideWriter(names: [String]?, database: String, now: Date) throws -> AckSummary {
        var configuration = Configuration()
        configuration.busyMode = .timeout(besideWriterTimeout)
        let queue = try DatabaseQueue(path: database, configuration: configuration)
        var summary = AckSummary()
        do {
            // IMMEDIATE: the write lock is taken (waiting with the busy timeout) before the
            // first read, so the rows read are the rows acknowledged; a deferred transaction
            // would fail at once if the writer committed between its read and its write.
            try queue.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    // The writer applied the migrations when it opened the database; one from
                    // before 0009 runs an older podpipe.
                    guard try Ledger.hasAcknowledgements(db) else {
                        throw AckError.schemaTooOld(database: database)
                    }
                    summary = try acknowledge(names: names, now: now, db)
                    return .commit
                }
            }
            return summary
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
            throw AckError.writerBusy(database: database, seconds: Int(besideWriterTimeout))
        }
    }

    /// The acknowledgement on a PostgreSQL warehouse, in one transaction (READ COMMITTED:
    /// each statement sees the rows committed when it starts; the write acknowledges a row
    /// only in the state it was read in, as on SQLite).
    static func onPostgres(names: [String]?, connection: PostgresConnection, now: Date) throws -> AckSummary {
        let store = PostgresQueries(connection: connection)
        guard try store.relationExists("ingest_ack") else {
            throw AckError.noSchema(database: connection.location)
        }
        try connection.execute("BEGIN")
        do {
            let summary = try acknowledge(names: names, now: now, store)
            try connection.execute("COMMIT")
            return summary
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// The acknowledgement in the caller's transaction.
    static func acknowledge(names: [String]?, now: Date, _ db: Database) throws -> AckSummary {
        try acknowledge(names: names, now: now, SQLiteQueries(db: db))
    }

    /// The acknowledgement in the caller's write transaction, on any engine.
    static func acknowledge(names: [String]?, now: Date, _ store: some QueryRunner) throws -> AckSummary {
        var summary = AckSummary()
        if let names {
            let unique = names.uniqued()
            var missing: [String] = []
            var suggestions: [String] = []
            for name in unique where try !Ledger.hasRow(named: name, store) {
                missing.append(name)
                suggestions += try Inspect.suggestions(for: name, store)
            }
            if !missing.isEmpty {
                throw MaintenanceError.unknownFiles(missing, suggestions: suggestions.uniqued())
            }
            let problems = try Ledger.problems(names: unique, store)
            let named = Set(problems.map(\.name))
            summary.nothingToAcknowledge = unique.filter { !named.contains($0) }
            summary.alreadyAcknowledged = problems.filter(\.acknowledged)
            summary.acknowledged = problems.filter { !$0.acknowledged }
        } else {
            summary.acknowledged = try Ledger.problems(store).filter { !$0.acknowledged }
        }
        _ = try Ledger.acknowledge(fileIds: summary.acknowledged.map(\.fileId), at: now, store)
        summary.acknowledged = summary.acknowledged.map { row in
            var row = row
            row.acknowledged = true
            return row
        }
        return summary
    }
}

/// `podpipectl ack` could not write next to the running writer.
enum AckError: Error, CustomStringConvertible, Equatable {
    /// The writer's transaction (a large file, a full gold rebuild) outlasted the wait.
    case writerBusy(database: String, seconds: Int)
    /// The running writer's podpipe predates acknowledgements (migration 0009).
    case schemaTooOld(database: String)
    /// A PostgreSQL database without podpipe's tables (no podpiped ever ran on it).
    case noSchema(database: String)

    var description: String {
        switch self {
        case .writerBusy(let database, let seconds):
            "the writer of \(database) has been in one transaction (a large file or a gold refresh) for the \(seconds) s ack waited; nothing was acknowledged: try again when it is done (podpipectl status shows what it is doing)"
        case .schemaTooOld(let database):
            "\(database) has no acknowledgements table (migration 0009): the running writer is an older podpipe; restart the daemon with this version (it applies the migration), then acknowledge again"
        case .noSchema(let database):
            "\(database) has no podpipe tables (no ingest_ack): nothing was ever loaded into it; check the database setting, or run podpiped on it once (it creates the tables)"
        }
    }
}

extension AckError: ExitCoded {
    var exitCode: Int32 {
        switch self {
        case .writerBusy: PodpipeExit.anotherWriter
        case .schemaTooOld, .noSchema: PodpipeExit.databaseError
        }
    }
}
