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
    /// The ledger rows `names` designate.
    ///
    /// - Throws: ``MaintenanceError/unknownFiles(_:suggestions:)`` when a name is not in
    ///   the ledger.
    public static func plan(names: [String], allVersions: Bool, dryRun: Bool, in db: Database)
        throws -> ReprocessPlan
    {
        var items: [ReprocessItem] = []
        var missing: [String] = []
        var suggestions: [String] = []
        for name in names.uniqued() {
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT file_id, name, kind, state, finished_at, rows_read, rows_loaded
                    FROM ingest_file WHERE name = ? ORDER BY file_id DESC
                    """, arguments: [name])
            if rows.isEmpty {
                missing.append(name)
                suggestions += try Inspect.suggestions(for: name, db)
                continue
            }
            for row in allVersions ? rows : Array(rows.prefix(1)) {
                let fileId: Int64 = row["file_id"] ?? 0
                let kind: String = row["kind"] ?? ""
                let state: String = row["state"] ?? ""
                let hasRows = state == "loaded" || state == "rejected"
                var silverRows: Int64 = 0
                var shared: Int64 = 0
                if state == "loaded" {
                    if kind == "events" {
                        silverRows = row["rows_loaded"] ?? 0
                        shared = try sharedEvents(fileId: fileId, db)
                    } else {
                        let table = kind == "episodes" ? "silver_episode" : "silver_user"
                        silverRows =
                            try Int64.fetchOne(
                                db, sql: "SELECT count(*) FROM \(table) WHERE file_id = ?",
                                arguments: [fileId]) ?? 0
                    }
                }
                items.append(
                    ReprocessItem(
                        fileId: fileId, name: row["name"] ?? name, kind: kind, state: state,
                        finishedAt: row["finished_at"] ?? "",
                        bronzeRows: hasRows ? (row["rows_read"] ?? 0) : 0, silverRows: silverRows,
                        sharedEvents: shared))
            }
        }
        if !missing.isEmpty {
            throw MaintenanceError.unknownFiles(missing, suggestions: suggestions.uniqued())
        }
        return ReprocessPlan(items: items, dryRun: dryRun)
    }

    /// The distinct silver events of `fileId` that other files also delivered (their copies
    /// are `duplicate` rows in bronze): a scan of the file's silver rows and of the
    /// duplicate rows (a small share of bronze), validated again to get their keys.
    static func sharedEvents(fileId: Int64, _ db: Database) throws -> Int64 {
        var keys = Set<String>()
        let own = try Row.fetchCursor(
            db, sql: "SELECT ts, user_id, episode_id, event_type FROM silver_event WHERE file_id = ?",
            arguments: [fileId])
        while let row = try own.next() {
            let ts: Int64 = row["ts"] ?? 0
            let user: String = row["user_id"] ?? ""
            let episode: String = row["episode_id"] ?? ""
            let type: String = row["event_type"] ?? ""
            keys.insert("\(ts)\u{1F}\(user)\u{1F}\(episode)\u{1F}\(type)")
        }
        guard !keys.isEmpty else { return 0 }
        // These rows were valid when loaded; time only moves forward, and the skew is not
        // what is being judged here.
        let validator = EventValidator(
            now: Int64(Date().timeIntervalSince1970), allowedFutureSkewSeconds: Int64.max / 4)
        var shared = Set<String>()
        let duplicates = try Row.fetchCursor(
            db, sql: "SELECT raw FROM bronze_event WHERE outcome = 'duplicate' AND file_id <> ?",
            arguments: [fileId])
        while let row = try duplicates.next() {
            let raw: String = row["raw"] ?? ""
            guard case .valid(let event) = validator.validate(raw) else { continue }
            let key =
                "\(event.timestamp)\u{1F}\(event.userId)\u{1F}\(event.episodeId)\u{1F}\(event.eventType.name)"
            if keys.contains(key) { shared.insert(key) }
        }
        return Int64(shared.count)
    }

    /// Forgets the plan's rows inside the caller's write transaction.
    static func apply(_ plan: ReprocessPlan, in db: Database, now: Date = Date()) throws
        -> ReprocessPlan
    {
        var result = plan
        result.dryRun = false
        try db.execute(
            sql: """
                DROP TABLE IF EXISTS temp.reprocess_file;
                CREATE TEMP TABLE reprocess_file (file_id INTEGER PRIMARY KEY);
                """)
        for item in plan.items {
            try db.execute(
                sql: "INSERT OR IGNORE INTO temp.reprocess_file (file_id) VALUES (?)",
                arguments: [item.fileId])
        }
        try db.execute(sql: try SQLResource.load("maintenance", "reprocess_forget"))
        try db.execute(sql: "DROP TABLE temp.reprocess_file")
        if plan.items.contains(where: { $0.kind != "events" }) {
            var replay = ReferenceReplay()
            result.reference = try replay.run(db, apply: true)
        }
        try PipelineState.increment(.silverGeneration, db)
        try PipelineState.set(.silverLastChangeAt, ISOTime.format(now), db)
        result.generation = try PipelineState.get(.silverGeneration, db)
        return result
    }

    /// Plans and, unless `dryRun`, applies in one transaction on the session's store.
    static func run(
        names: [String], allVersions: Bool, dryRun: Bool, session: WriterSession
    ) throws -> ReprocessPlan {
        try session.store.pool.write { db in
            let plan = try plan(names: names, allVersions: allVersions, dryRun: dryRun, in: db)
            return dryRun ? plan : try apply(plan, in: db)
        }
    }
}
