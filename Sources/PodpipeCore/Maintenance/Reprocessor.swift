import Foundation
import GRDB
import PodpipeRules

/// One ledger row `reprocess` forgets, and what goes with it.
struct ReprocessItem: Sendable, Codable, Equatable {
    var fileId: Int64
    var name: String
    var kind: String
    var state: String
    var finishedAt: String
    /// Bronze rows of the file (ledger rows_read of a file with rows).
    var bronzeRows: Int64
    /// Silver events (events) or reference rows (users, episodes) it contributed.
    var silverRows: Int64
    /// Events: how many of its silver events other files also delivered (kept there as
    /// duplicates). They leave silver with the file until it is loaded again, or until
    /// `revalidate` takes them from those files.
    var sharedEvents: Int64 = 0
}

/// What `podpipectl reprocess` forgets (the plan; also the result once applied).
public struct ReprocessPlan: Sendable, Codable, Equatable {
    var items: [ReprocessItem]
    var dryRun: Bool
    /// After applying: the reference replay's changes (reference files only).
    var reference: [ReferenceChange] = []
    /// After applying: `silver.generation` (bumped).
    var generation: String?

    /// One JSON object (snake_case keys).
    public func json() -> String { JSONText.snakeCase(self) }

    /// The human-readable plan or result.
    public func text() -> String {
        var out = dryRun ? "would forget (dry run: nothing was written):\n" : "forgot:\n"
        for item in items {
            let rows =
                item.kind == "events"
                ? "\(item.bronzeRows) bronze rows, \(item.silverRows) silver events"
                : "\(item.bronzeRows) bronze rows, \(item.silverRows) \(item.kind) set in silver"
            out +=
                "  \(TerminalText.escape(item.name)) (file \(item.fileId), \(item.kind), \(item.state) \(item.finishedAt)): \(rows)\n"
            if item.sharedEvents > 0 {
                out +=
                    "    \(item.sharedEvents) of its events were also delivered by other files: they leave silver until it is loaded again (or `podpipectl revalidate` takes them from those files)\n"
            }
        }
        for change in reference where change.changesValues {
            out +=
                "  \(change.kind): \(change.removed) id(s) no longer in silver, \(change.changed) back to an earlier file's values\n"
        }
        if dryRun {
            out +=
                "run without --dry-run to forget them; the next pass (podpiped --once, or the daemon) loads them again\n"
        } else {
            out +=
                "silver.generation is now \(generation ?? "?"): gold is rebuilt in full at the next refresh\nthe next pass (podpiped --once, or the daemon) loads these files again if they are still in the drop folder\n"
        }
        return out
    }
}

/// `podpipectl reprocess`: forgets files so that the next pass loads them again.
///
/// For each name, the newest ledger row of that name is forgotten (with `allVersions`,
/// every row of the name): the ledger row, its bronze rows and the silver rows it
/// contributed, in one transaction that bumps `silver.generation` (gold then rebuilds in
/// full). For a reference file, the remaining reference rows are replayed
/// (``ReferenceReplay``), so ids the file had set fall back to earlier files' values until
/// it is loaded again. When the file is then loaded again from the same bytes, silver and
/// gold come back exactly as they were (its events get new event ids).
public enum Reprocessor {
    /// The ledger rows `names` designate (SQLite; podpipectl's read-only plan).
    ///
    /// - Throws: ``MaintenanceError/unknownFiles(_:suggestions:)`` when a name is not in
    ///   the ledger.
    public static func plan(names: [String], allVersions: Bool, dryRun: Bool, in db: Database)
        throws -> ReprocessPlan
    {
        try plan(names: names, allVersions: allVersions, dryRun: dryRun, in: SQLiteQueries(db: db))
    }

    /// The ledger rows `names` designate, within the database's scope of names
    /// (``MaintenanceDatabase/nameScope``: on PostgreSQL, this host's drop folder).
    static func plan(names: [String], allVersions: Bool, dryRun: Bool, in db: any MaintenanceDatabase)
        throws -> ReprocessPlan
    {
        var items: [ReprocessItem] = []
        var missing: [String] = []
        var suggestions: [String] = []
        let (inScope, scopeArguments) = scopeCondition(db, from: 2)
        for name in names.uniqued() {
            let rows = try db.table(
                """
                SELECT file_id, name, kind, state, finished_at, rows_read, rows_loaded
                FROM ingest_file WHERE name = $1\(inScope) ORDER BY file_id DESC
                """, [.text(name)] + scopeArguments
            ).rows
            if rows.isEmpty {
                missing.append(name)
                let (scope, arguments) = scopeCondition(db, from: 1, joiner: "WHERE")
                let known = try db.table(
                    "SELECT DISTINCT name FROM ingest_file\(scope) ORDER BY name", arguments
                ).rows.compactMap { $0.first?.stringValue }
                suggestions += Inspect.suggestions(for: name, among: known)
                continue
            }
            for row in allVersions ? rows : Array(rows.prefix(1)) where row.count == 7 {
                let fileId = row[0].int64Value ?? 0
                let kind = row[2].stringValue ?? ""
                let state = row[3].stringValue ?? ""
                let hasRows = state == "loaded" || state == "rejected"
                var silverRows: Int64 = 0
                var shared: Int64 = 0
                if state == "loaded" {
                    if kind == "events" {
                        silverRows = row[6].int64Value ?? 0
                        shared = try sharedEvents(fileId: fileId, db)
                    } else {
                        let table = kind == "episodes" ? "silver_episode" : "silver_user"
                        silverRows =
                            try db.scalar(
                                "SELECT count(*) FROM \(table) WHERE file_id = $1", [.integer(fileId)]
                            )?.int64Value ?? 0
                    }
                }
                items.append(
                    ReprocessItem(
                        fileId: fileId, name: row[1].stringValue ?? name, kind: kind, state: state,
                        finishedAt: row[4].stringValue ?? "",
                        bronzeRows: hasRows ? (row[5].int64Value ?? 0) : 0, silverRows: silverRows,
                        sharedEvents: shared))
            }
        }
        if !missing.isEmpty {
            throw MaintenanceError.unknownFiles(missing, suggestions: suggestions.uniqued())
        }
        return ReprocessPlan(items: items, dryRun: dryRun)
    }

    /// The condition that keeps ledger rows to the database's scope of names, with its
    /// parameters numbered from `first`: empty on SQLite.
    static func scopeCondition(_ db: any MaintenanceDatabase, from first: Int, joiner: String = "AND")
        -> (sql: String, arguments: [ReportValue])
    {
        guard let scope = db.nameScope else { return ("", []) }
        return (
            " \(joiner) host = $\(first) AND data_load = $\(first + 1)",
            [.text(scope.host), .text(scope.dataLoad)]
        )
    }

    /// The distinct silver events of `fileId` that other files also delivered (their copies
    /// are `duplicate` rows in bronze): a scan of the file's silver rows and of the
    /// duplicate rows (a small share of bronze), validated again to get their keys.
    static func sharedEvents(fileId: Int64, _ db: any MaintenanceDatabase) throws -> Int64 {
        var keys = Set<String>()
        let own = try db.table(
            "SELECT ts, user_id, episode_id, event_type FROM silver_event WHERE file_id = $1",
            [.integer(fileId)])
        for row in own.rows where row.count == 4 {
            keys.insert(
                "\(row[0].int64Value ?? 0)\u{1F}\(row[1].stringValue ?? "")\u{1F}\(row[2].stringValue ?? "")\u{1F}\(row[3].stringValue ?? "")"
            )
        }
        guard !keys.isEmpty else { return 0 }
        // These rows were valid when loaded; time only moves forward, and the skew is not
        // what is being judged here.
        let validator = EventValidator(
            now: Int64(Date().timeIntervalSince1970), allowedFutureSkewSeconds: Int64.max / 4)
        var shared = Set<String>()
        let duplicates = try db.table(
            "SELECT raw FROM bronze_event WHERE outcome = 'duplicate' AND file_id <> $1",
            [.integer(fileId)])
        for row in duplicates.rows {
            let raw = row.first?.stringValue ?? ""
            guard case .valid(let event) = validator.validate(raw) else { continue }
            let key =
                "\(event.timestamp)\u{1F}\(event.userId)\u{1F}\(event.episodeId)\u{1F}\(event.eventType.name)"
            if keys.contains(key) { shared.insert(key) }
        }
        return Int64(shared.count)
    }

    /// Forgets the plan's rows inside the caller's write transaction (the engine's
    /// `reprocess_setup.sql` and `reprocess_forget.sql`; on PostgreSQL the latter first takes
    /// the locks that keep other hosts' loads of the same bytes and silver writes out).
    static func apply(_ plan: ReprocessPlan, in db: any MaintenanceDatabase, now: Date = Date()) throws
        -> ReprocessPlan
    {
        var result = plan
        result.dryRun = false
        try db.executeScript(try db.resource("maintenance", "reprocess_setup"))
        for item in plan.items {
            try db.execute(
                "INSERT INTO reprocess_file (file_id) VALUES ($1) ON CONFLICT DO NOTHING",
                [.integer(item.fileId)])
        }
        try db.executeScript(try db.resource("maintenance", "reprocess_forget"))
        try db.executeScript("DROP TABLE reprocess_file")
        if plan.items.contains(where: { $0.kind != "events" }) {
            var replay = ReferenceReplay()
            result.reference = try replay.run(db, apply: true)
        }
        try db.incrementState(.silverGeneration)
        try db.setState(.silverLastChangeAt, ISOTime.format(now))
        result.generation = try db.pipelineState(.silverGeneration)
        return result
    }

    /// ``apply(_:in:now:)`` on a GRDB connection (in the caller's write transaction).
    static func apply(_ plan: ReprocessPlan, in db: Database, now: Date = Date()) throws -> ReprocessPlan {
        try apply(plan, in: SQLiteQueries(db: db), now: now)
    }

    /// Plans and, unless `dryRun`, applies in one transaction on the writer.
    static func run(
        names: [String], allVersions: Bool, dryRun: Bool, writer: any MaintenanceWriter
    ) throws -> ReprocessPlan {
        try writer.maintenanceTransaction { db in
            let plan = try plan(names: names, allVersions: allVersions, dryRun: dryRun, in: db)
            return dryRun ? (plan, false) : (try apply(plan, in: db), true)
        }
    }
}
