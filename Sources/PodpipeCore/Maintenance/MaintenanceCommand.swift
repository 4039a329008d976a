import Foundation
import Logging

/// A maintenance command that writes the database (`podpipectl refresh`, `reprocess`,
/// `revalidate`), run on a writer's session. podpipectl runs it itself when no writer
/// holds the database, and hands it to the running daemon otherwise
/// (``MaintenanceMailbox``), which runs it between two files: the same procedure either way.
public enum MaintenanceCommand: Codable, Sendable, Equatable {
    /// Bring gold up to date (incrementally when silver changed), or rebuild it with `full`.
    case refresh(full: Bool)
    /// Forget the newest ledger row of each name (every row with `allVersions`), with its
    /// bronze and silver rows; the next pass loads the files again.
    case reprocess(names: [String], allVersions: Bool)
    /// The current rules over all of bronze (`futureSkewSeconds`: the configuration's
    /// `validation.future_skew` where the command was given); `dryRun` rolls it back.
    case revalidate(dryRun: Bool, futureSkewSeconds: Int64)
    /// Delete the bronze rows of the valid lines of event files loaded before
    /// `loadedBefore` (ISO 8601 UTC), in batches (``BronzePruner``).
    case prune(loadedBefore: String)

    /// The podpipectl subcommand.
    public var name: String {
        switch self {
        case .refresh: "refresh"
        case .reprocess: "reprocess"
        case .revalidate: "revalidate"
        case .prune: "prune"
        }
    }

    /// Whether the command forgot files that the next pass should load again.
    var asksForAPass: Bool {
        if case .reprocess = self { return true }
        return false
    }

    /// Runs the command on `session` (which holds the writer lock) to its end and renders
    /// its result.
    /// - Throws: the command's own errors (``MaintenanceError``, `StoreError`, …).
    public func run(on session: WriterSession, now: Date = Date()) throws -> MaintenanceResult {
        try runToEnd(on: session, now: now)
    }

    /// Runs the command on the PostgreSQL database of `settings` from podpipectl, beside any
    /// running daemon: no hand-off (the server serves many writers); each command takes the
    /// locks it needs in its own transactions. Names (`reprocess`) are this host's, in
    /// `settings`' drop folder.
    /// - Throws: the command's own errors, `PostgresError`.
    public func run(onPostgreSQL settings: PodpipeConfig, now: Date = Date()) throws -> MaintenanceResult {
        let session = try Self.postgresSession(settings)
        defer { session.store.connection.close() }
        return try runToEnd(on: session, now: now)
    }

    /// `podpipectl reprocess --dry-run` on the PostgreSQL database of `settings`: the plan,
    /// read in a transaction that is rolled back.
    public static func reprocessPlan(names: [String], allVersions: Bool, onPostgreSQL settings: PodpipeConfig)
        throws -> ReprocessPlan
    {
        let session = try postgresSession(settings)
        defer { session.store.connection.close() }
        return try Reprocessor.run(names: names, allVersions: allVersions, dryRun: true, writer: session)
    }

    private static func postgresSession(_ settings: PodpipeConfig) throws -> PostgresWriterSession {
        guard case .postgresql(let uri) = DatabaseLocation(settings.database) else {
            throw PostgresNotYet.unsupported(what: "a SQLite path", instead: "give a postgresql:// URI")
        }
        return try PostgresWriterSession.forMaintenance(
            uri: uri, dataLoad: settings.dataLoad, logger: Logger(label: "podpipectl"))
    }

    private func runToEnd(on writer: any MaintenanceWriter, now: Date) throws -> MaintenanceResult {
        var pruner: BronzePruner?
        guard let result = try run(on: writer, now: now, pruner: &pruner, budget: nil) else {
            throw MaintenanceError.unfinished(command: name)
        }
        return result
    }

    /// Runs the command, or with `budget` (seconds) a turn of it: a prune that has batches
    /// left when its turn ends returns nil, its progress in `pruner`, to go on at the next
    /// turn (the daemon gives it turns between two files). The other commands are one
    /// transaction each and always finish. The same procedure on either engine.
    func run(on writer: any MaintenanceWriter, now: Date, pruner: inout BronzePruner?, budget: Double?) throws
        -> MaintenanceResult?
    {
        switch self {
        case .prune(let loadedBefore):
            var progress = pruner ?? BronzePruner(loadedBefore: loadedBefore)
            try progress.run(on: writer, now: now, budget: budget)
            pruner = progress
            guard progress.done else { return nil }
            return MaintenanceResult(
                exitCode: PodpipeExit.success, text: progress.tally.text(), json: progress.tally.json())
        case .refresh(let full):
            let before = try writer.goldRefreshedAt()
            let summary = try writer.refreshGold(full: full)
            let after = try writer.goldRefreshedAt()
            let json = """
                {"mode": "\(summary.mode.rawValue)", "new_events": \(summary.newEvents), "duration_ms": \(summary.durationMs), \
                "watermark_event_id": \(summary.toEventId), "refreshed_at": \(after.map { "\"\($0)\"" } ?? "null")}
                """
            let text =
                summary.mode == .none
                ? "gold is up to date (refreshed \(before ?? "never")); nothing to do. --full rebuilds it anyway."
                : "gold refreshed (\(summary.mode.rawValue)): \(summary.newEvents) silver event(s) folded in\(summary.referenceChanged ? ", reference data reconciled" : ""), \(summary.durationMs) ms; refreshed_at \(after ?? "?")"
            return MaintenanceResult(exitCode: PodpipeExit.success, text: text, json: json)
        case .reprocess(let names, let allVersions):
            let plan = try Reprocessor.run(
                names: names, allVersions: allVersions, dryRun: false, writer: writer)
            return MaintenanceResult(exitCode: PodpipeExit.success, text: plan.text(), json: plan.json())
        case .revalidate(let dryRun, let futureSkewSeconds):
            let summary = try Revalidator(futureSkewSeconds: futureSkewSeconds, now: now).run(
                writer, dryRun: dryRun)
            return MaintenanceResult(
                exitCode: PodpipeExit.success, text: summary.text(), json: summary.json())
        }
    }
}

/// What a maintenance command printed, in both renderings (the caller picks), and its exit
/// code. A command that failed carries its error's message in both and its exit code.
public struct MaintenanceResult: Codable, Sendable, Equatable {
    public var exitCode: Int32
    /// The human-readable result (or the error), as podpipectl prints it.
    public var text: String
    /// The `--json` rendering: the command's JSON object, or `{"error": …}`.
    public var json: String

    init(exitCode: Int32, text: String, json: String) {
        self.exitCode = exitCode
        self.text = text
        self.json = json
    }

    /// The result of a command that threw `error`.
    init(failure error: any Error) {
        let message = "\(error)"
        self.init(
            exitCode: PodpipeExit.code(for: error), text: message,
            json: JSONText.snakeCase(["error": message]))
    }
}
