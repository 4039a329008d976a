import Foundation
import GRDB

/// Errors of the maintenance commands (`reprocess`, `revalidate`, `refresh`), with what to
/// do about them.
public enum MaintenanceError: Error, CustomStringConvertible, Equatable {
    /// Another process holds the writer lock (a running daemon or a `--once` pass).
    case writerBusy(database: String, holder: String?, command: String)
    /// `reprocess` names files that are not in the ledger.
    case unknownFiles([String], suggestions: [String])

    public var description: String {
        switch self {
        case .writerBusy(let database, let holder, let command):
            let who = holder.map { " (\($0))" } ?? ""
            return
                "another podpipe writer holds \(database)\(who): the daemon or a `podpiped --once` pass. `podpipectl \(command)` writes the database and must be its only writer: stop the daemon (systemctl stop podpiped) or wait for the pass to end, run it again, then start the daemon."
        case .unknownFiles(let names, let suggestions):
            return "not in the ledger: \(names.joined(separator: ", "))"
                + (suggestions.isEmpty ? "" : " (did you mean \(suggestions.joined(separator: ", "))?)")
                + "; `podpipectl files` lists the ledger's names"
        }
    }
}

/// The writer's side of a maintenance command: the writer lock (held for the session's
/// lifetime) and the store opened for writing. The database must already exist.
public final class MaintenanceSession: Sendable {
    public let lock: WriterLock
    public let store: Store

    /// Takes the writer lock and opens the database for writing.
    ///
    /// - Parameter command: the podpipectl subcommand, named in the error message.
    /// - Throws: ``MaintenanceError/writerBusy(database:holder:command:)`` when another
    ///   writer holds the lock; `StoreError` for a missing database or one from a newer
    ///   podpipe; `PipelineError.database` when the lock file cannot be created.
    public static func open(database: String, command: String) throws -> MaintenanceSession {
        // The read-only checks first: a missing file is not created, a newer schema is
        // refused before anything is written.
        _ = try Store.openForReading(path: database)
        let lock: WriterLock
        do {
            lock = try WriterLock.acquire(database: database)
        } catch {
            if case .anotherWriter(_, _, let holder) = error {
                throw MaintenanceError.writerBusy(database: database, holder: holder, command: command)
            }
            throw error
        }
        let store = try Store.openForWriting(path: database)
        return MaintenanceSession(lock: lock, store: store)
    }

    /// Whether a writer (the daemon, a `--once` pass) holds the lock now, and which
    /// (`pid N`, when the system says).
    public static func writerHolder(database: String) -> (held: Bool, holder: String?) {
        guard WriterLock.isHeld(database: database) else { return (false, nil) }
        return (true, WriterLock.holder(database: database))
    }

    init(lock: WriterLock, store: Store) {
        self.lock = lock
        self.store = store
    }
}

/// `podpipectl refresh` when no daemon runs: bring gold up to date now.
public enum GoldMaintenance {
    /// Refreshes gold in one transaction: incrementally when silver changed, fully with
    /// `full`, not at all (mode `none`) when gold is current and `full` is false.
    public static func refresh(_ session: MaintenanceSession, full: Bool, now: Date = Date())
        throws -> GoldRefreshSummary
    {
        // A transaction of its own that leaves silver alone: a full rebuild may scan silver
        // through a reader of the pool.
        try session.store.pool.write { db in
            try GoldRefresher(scanReader: session.store.pool).refresh(db, now: now, forceFull: full)
        }
    }
}
