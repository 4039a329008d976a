import Foundation
import Logging

/// Errors of the maintenance commands (`reprocess`, `revalidate`, `refresh`), with what to
/// do about them.
public enum MaintenanceError: Error, CustomStringConvertible, Equatable {
    /// Another process holds the writer lock (a running daemon or a `--once` pass).
    case writerBusy(database: String, holder: String?, command: String)
    /// `reprocess` names files that are not in the ledger.
    case unknownFiles([String], suggestions: [String])
    /// A request handed to the daemon (``MaintenanceMailbox``) could not be written.
    case mailbox(path: String, reason: String)
    /// The daemon found a request it could not read.
    case unreadableRequest(path: String, reason: String)
    /// A command given a time budget did not finish within it (an internal error when it
    /// was meant to run to its end).
    case unfinished(command: String)
    /// The daemon did not answer a request within the time given.
    case noAnswer(command: String, pid: Int64, seconds: Int, withdrawn: Bool)

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
        case .mailbox(let path, let reason):
            return
                "cannot hand the request to the daemon: writing \(path) failed: \(reason); podpipectl needs write access to the database's folder (run it as the daemon's user)"
        case .unfinished(let command):
            return
                "`podpipectl \(command)` stopped before its end (an internal error); run it again: it goes on where it stopped"
        case .unreadableRequest(let path, let reason):
            return "the request \(path) cannot be read (\(reason)); it was not run: give the command again"
        case .noAnswer(let command, let pid, let seconds, let withdrawn):
            return withdrawn
                ? "the daemon (pid \(pid)) did not pick up `\(command)` within \(seconds) s (is it busy with a large file?); the request was withdrawn: try again, or give a longer --wait-timeout"
                : "the daemon (pid \(pid)) is running `\(command)` and did not finish within \(seconds) s; it goes on: `podpipectl status` and the daemon's log show when it is done"
        }
    }
}

extension WriterSession {
    /// The writer's side of a maintenance command: the writer lock (held for the session's
    /// lifetime) and the store opened for writing. The database must already exist.
    ///
    /// - Parameter command: the podpipectl subcommand, named in the error message.
    /// - Throws: ``MaintenanceError/writerBusy(database:holder:command:)`` when another
    ///   writer holds the lock; `StoreError` for a missing database or one from a newer
    ///   podpipe; `PipelineError.database` when the lock file cannot be created.
    public static func forMaintenance(database: String, command: String) throws -> WriterSession {
        do {
            return try open(database: database, create: false, logger: Logger(label: "podpipectl"))
        } catch PipelineError.anotherWriter(_, _, let holder) {
            throw MaintenanceError.writerBusy(database: database, holder: holder, command: command)
        }
    }

    /// Whether a writer (the daemon, a `--once` pass) holds the lock now, and which
    /// (`pid N`, when the system says).
    public static func writerHolder(database: String) -> (held: Bool, holder: String?) {
        guard WriterLock.isHeld(database: database) else { return (false, nil) }
        return (true, WriterLock.holder(database: database))
    }
}
