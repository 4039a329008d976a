import Foundation
import GRDB
import GRDBSQLite
import PodpipeRules

/// How one file's counts changed in a revalidation.
struct FileCountChange: Sendable, Codable, Equatable {
    var fileId: Int64
    var name: String
    var kind: String
    var loadedBefore: Int64
    var loadedAfter: Int64
    var rejectedBefore: Int64
    var rejectedAfter: Int64
    var duplicateBefore: Int64
    var duplicateAfter: Int64
}

/// What `podpipectl revalidate` changed (or, with `--dry-run`, would change).
struct RevalidateSummary: Sendable, Codable, Equatable {
    var dryRun: Bool
    /// bronze_event rows validated again (rows of files recorded `loaded`).
    var bronzeEvents: Int64
    /// Rows kept as they were: `malformed_json` (the stored text of an over-long line is a
    /// prefix, so it cannot be judged again).
    var keptMalformed: Int64
    /// Silver events kept as they were because their lines were pruned from bronze
    /// (`podpipectl prune`): they cannot be validated again.
    var keptPruned: Int64 = 0
    var silverEventsBefore: Int64
    var silverEventsAfter: Int64
    /// Natural keys that enter silver, leave it, or whose winning row or duration changes.
    var eventsAdded: Int64
    var eventsRemoved: Int64
    var eventsChanged: Int64
    /// bronze_event rows whose outcome or codes change.
    var bronzeEventRowsChanged: Int64
    /// Rows per code before and after (a row with several codes counts under each).
    var codesBefore: [String: Int64]
    var codesAfter: [String: Int64]
    var reference: [ReferenceChange]
    var files: [FileCountChange]
    /// `silver.generation` after the run (bumped unless dry run).
    var generation: String?
    /// The gold rebuild (`full`), nil for a dry run.
    var goldMode: String?
    var goldDurationMs: Int?
    var durationMs: Int

    /// One JSON object (snake_case keys).
    func json() -> String { JSONText.snakeCase(self) }

    /// The human-readable summary.
    func text() -> String {
        var out = dryRun ? "revalidate (dry run: nothing was written)\n" : "revalidate\n"
        out +=
            "  events     \(bronzeEvents) bronze rows validated again (\(keptMalformed) malformed_json kept as they were)\n"
        if keptPruned > 0 {
            out += "  pruned     \(keptPruned) silver events of files pruned from bronze kept as they were\n"
        }
        out +=
            "  silver     \(silverEventsBefore) → \(silverEventsAfter) events: \(eventsAdded) added · \(eventsRemoved) removed · \(eventsChanged) changed\n"
        out += "  bronze     \(bronzeEventRowsChanged) event row(s) with a new outcome or codes\n"
        let codes = Set(codesBefore.keys).union(codesAfter.keys).sorted()
        let moved = codes.filter { codesBefore[$0, default: 0] != codesAfter[$0, default: 0] }
        if !moved.isEmpty {
            out +=
                "  codes      "
                + moved.map { "\($0) \(codesBefore[$0, default: 0]) → \(codesAfter[$0, default: 0])" }
                .joined(separator: " · ") + "\n"
        }
        for change in reference {
            out +=
                "  \(change.kind.padding(toLength: 10, withPad: " ", startingAt: 0)) \(change.added) added · \(change.removed) removed · \(change.changed) changed · \(change.bronzeRows) bronze row(s) re-coded\n"
        }
        if !files.isEmpty {
            out += "  files with new counts:\n"
            for file in files.prefix(20) {
                out +=
                    "    \(TerminalText.escape(file.name)) (file \(file.fileId)): loaded \(file.loadedBefore) → \(file.loadedAfter) · rejected \(file.rejectedBefore) → \(file.rejectedAfter) · duplicate \(file.duplicateBefore) → \(file.duplicateAfter)\n"
            }
            if files.count > 20 { out += "    … and \(files.count - 20) more\n" }
        }
        if let goldMode {
            out +=
                "  gold       rebuilt (\(goldMode), \(goldDurationMs ?? 0) ms); silver.generation \(generation ?? "?")\n"
        } else if dryRun {
            out += "  gold       would be rebuilt\n"
        }
        out += "  took       \(durationMs) ms\n"
        return out
    }
}

/// `podpipectl revalidate`: re-applies the current rules to all of bronze, rebuilds silver
/// from it, then rebuilds gold — in one transaction, so readers see the old layers or the
/// new ones (SPEC §4.2).
///
/// Events are validated again in their original load order (file processing order, then
/// line), with "now" = the run's time (an event once `timestamp_in_future` may now be
/// valid); the first valid row of a natural key wins, as at load time. Silver rows whose
/// key stays keep their event_id (the stable interaction id). Reference rows are replayed
/// in order, the latest file winning (``ReferenceReplay``). The ledger's per-file counts
/// follow, so that bronze = silver + rejected + duplicates still holds per file. Files
/// recorded `rejected` as a whole stay rejected: `reprocess` loads them again.
struct Revalidator: Sendable {
    var futureSkewSeconds: Int64
    var now: Date

    init(futureSkewSeconds: Int64 = 300, now: Date = Date()) {
        self.futureSkewSeconds = futureSkewSeconds
        self.now = now
    }

    /// Runs the revalidation in one transaction on the session's store; a dry run rolls it
    /// back and skips gold.
    func run(_ session: WriterSession, dryRun: Bool) throws -> RevalidateSummary {
        try session.store.pool.writeWithoutTransaction { db in
            // The scratch copy of silver can be as large as silver: on disk, not in the
            // writer's memory (the store's default is temp_store = MEMORY).
            try db.execute(sql: "PRAGMA temp_store = FILE")
            defer { try? db.execute(sql: "PRAGMA temp_store = MEMORY") }
            var summary: RevalidateSummary?
            try db.inTransaction(.immediate) {
                summary = try run(db, dryRun: dryRun)
                return dryRun ? .rollback : .commit
            }
            guard let summary else {
                throw PipelineError.database(message: "revalidation produced no summary", file: nil)
            }
            return summary
        }
    }

    /// The revalidation inside the caller's transaction (the caller commits or rolls back).
    func run(_ db: Database, dryRun: Bool) throws -> RevalidateSummary {
        let started = DispatchTime.now().uptimeNanoseconds
        let silverBefore = try Int64.fetchOne(db, sql: "SELECT count(*) FROM silver_event") ?? 0
        let ledgerBefore = try Row.fetchAll(
            db,
            sql: """
                SELECT file_id, name, kind, rows_loaded, rows_rejected, rows_duplicate, first_error,
                       first_error_line, message
                FROM ingest_file WHERE state = 'loaded'
                """
        )
        let codesBefore = try codeCounts(db)

        try db.execute(sql: try SQLResource.load("maintenance", "revalidate_events_setup"))
        var counts: [Int64: FileLoadCounts] = [:]
        let scan = try scanEvents(db, counts: &counts)

        var replay = ReferenceReplay()
        let reference = try replay.run(db, apply: true)
        for (fileId, fileCounts) in replay.fileCounts { counts[fileId] = fileCounts }

        guard
            let diff = try Row.fetchOne(
                db, sql: try SQLResource.load("maintenance", "revalidate_events_diff"))
        else { throw PipelineError.database(message: "revalidate diff returned no row", file: nil) }
        let added: Int64 = diff["added"] ?? 0
        let removed: Int64 = diff["removed"] ?? 0
        let changed: Int64 = diff["changed"] ?? 0
        try db.execute(sql: try SQLResource.load("maintenance", "revalidate_events_apply"))

        let files = try updateLedger(db, before: ledgerBefore, counts: counts)
        let nowText = ISOTime.format(now)
        var summary = RevalidateSummary(
            dryRun: dryRun, bronzeEvents: scan.rows, keptMalformed: scan.keptMalformed,
            keptPruned: scan.keptPruned,
            silverEventsBefore: silverBefore,
            silverEventsAfter: try Int64.fetchOne(db, sql: "SELECT count(*) FROM silver_event") ?? 0,
            eventsAdded: added, eventsRemoved: removed, eventsChanged: changed,
            bronzeEventRowsChanged: scan.bronzeChanged, codesBefore: codesBefore,
            codesAfter: try codeCounts(db), reference: reference, files: files,
            durationMs: 0)
        try db.execute(
            sql: "DROP TABLE IF EXISTS temp.revalidated_event; DROP TABLE IF EXISTS temp.revalidated_bronze")
        if !dryRun {
            try PipelineState.increment(.silverGeneration, db)
            try PipelineState.set(.silverLastChangeAt, nowText, db)
            summary.generation = try PipelineState.get(.silverGeneration, db)
            let gold = try GoldRefresher().refresh(db, now: now, forceFull: true)
            summary.goldMode = gold.mode.rawValue
            summary.goldDurationMs = gold.durationMs
        }
        summary.durationMs = Int((DispatchTime.now().uptimeNanoseconds &- started) / 1_000_000)
        return summary
    }

    /// Validates every bronze_event row of the loaded event files again, in load order
    /// (`revalidate_event_files.sql`: file by file, then line), into
    /// `temp.revalidated_event` (first key wins) and `temp.revalidated_bronze` (changes).
    /// Raw bytes are read as stored (no UTF-8 repair), as the loader validated them.
    ///
    /// A file pruned from bronze (`bronze_pruned_at`) first gets its silver rows as they are,
    /// in line order (their lines are gone); its remaining (rejected) rows are validated
    /// again after them. Its pruned duplicate lines stay counted as duplicates.
    func scanEvents(_ db: Database, counts: inout [Int64: FileLoadCounts]) throws
        -> (rows: Int64, keptMalformed: Int64, bronzeChanged: Int64, keptPruned: Int64)
    {
        let pruned = try Dictionary(
            uniqueKeysWithValues: Row.fetchAll(
                db,
                sql: """
                    SELECT file_id, rows_duplicate FROM ingest_file
                    WHERE bronze_pruned_at IS NOT NULL AND state = 'loaded' AND kind = 'events'
                    """
            ).map { row -> (Int64, Int64) in (row["file_id"] ?? 0, row["rows_duplicate"] ?? 0) })
        try db.execute(
            sql: """
                DROP TABLE IF EXISTS temp.pruned_silver;
                CREATE TEMP TABLE pruned_silver AS
                    SELECT ts, user_id, episode_id, event_type, duration, file_id, line_no
                    FROM silver_event
                    WHERE \(pruned.isEmpty ? "false" : "file_id IN (\(pruned.keys.map(String.init).joined(separator: ",")))");
                CREATE INDEX temp.pruned_silver_file ON pruned_silver (file_id, line_no);
                """)
        defer { try? db.execute(sql: "DROP TABLE IF EXISTS temp.pruned_silver") }
        let carry = try db.makeStatement(
            sql: """
                INSERT OR IGNORE INTO temp.revalidated_event
                    (ts, user_id, episode_id, event_type, duration, file_id, line_no)
                SELECT ts, user_id, episode_id, event_type, duration, file_id, line_no
                FROM temp.pruned_silver WHERE file_id = ? ORDER BY line_no
                """)
        var keptPruned: Int64 = 0
        let validator = EventValidator(
            now: Int64(now.timeIntervalSince1970), allowedFutureSkewSeconds: futureSkewSeconds)
        let insert = try BulkStatement(
            db,
            sql: """
                INSERT OR IGNORE INTO temp.revalidated_event
                    (ts, user_id, episode_id, event_type, duration, file_id, line_no)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
        let change = try BulkStatement(
            db, sql: "INSERT INTO temp.revalidated_bronze (bronze_id, outcome, error_codes) VALUES (?, ?, ?)")
        let files = try Int64.fetchAll(
            db, sql: try SQLResource.load("maintenance", "revalidate_event_files"))
        let select = try db.makeStatement(
            sql: """
                SELECT b.bronze_id, b.line_no, b.raw, b.outcome, b.error_codes
                FROM ingest_file AS f
                CROSS JOIN bronze_event AS b
                    ON b.bronze_id BETWEEN f.bronze_first_id AND f.bronze_last_id
                WHERE f.file_id = ?1 AND b.file_id = ?1
                ORDER BY b.bronze_id
                """)
        let handle = select.sqliteStatement
        let malformed = EventErrorCode.malformedJSON.rawValue
        var rows: Int64 = 0
        var kept: Int64 = 0
        var changed: Int64 = 0
        for fileId in files {
            var fileCounts = FileLoadCounts()
            if let prunedDuplicates = pruned[fileId] {
                let carried =
                    try Int64.fetchOne(
                        db, sql: "SELECT count(*) FROM temp.pruned_silver WHERE file_id = ?",
                        arguments: [fileId])
                    ?? 0
                try carry.execute(arguments: [fileId])
                let inserted = Int64(db.changesCount)
                keptPruned += inserted
                fileCounts.rowsRead += carried + prunedDuplicates
                fileCounts.rowsLoaded += inserted
                fileCounts.rowsDuplicate += carried - inserted + prunedDuplicates
            }
            sqlite3_reset(handle)
            sqlite3_bind_int64(handle, 1, fileId)
            defer { sqlite3_reset(handle) }
            let rc = try RawRows.step(handle) { handle in
                let bronzeId = sqlite3_column_int64(handle, 0)
                let lineNo = sqlite3_column_int64(handle, 1)
                rows += 1
                fileCounts.rowsRead += 1
                let oldOutcome = Self.text(handle, 3) ?? ""
                let oldCodes = Self.text(handle, 4)
                if oldCodes == malformed {
                    kept += 1
                    fileCounts.rowsRejected += 1
                    fileCounts.noteError(malformed, line: lineNo)
                    return
                }
                let rawBytes = sqlite3_column_blob(handle, 2)
                let rawCount = Int(sqlite3_column_bytes(handle, 2))
                let raw = UnsafeRawBufferPointer(start: rawBytes, count: rawBytes == nil ? 0 : rawCount)
                let outcome: String
                var codes: String?
                switch validator.validate(raw) {
                case .blank:
                    // Blank lines are never stored; keep such a row as it was.
                    outcome = oldOutcome
                    codes = oldCodes
                    if oldOutcome == "silver" {
                        fileCounts.rowsLoaded += 1
                    } else {
                        fileCounts.rowsRejected += 1
                    }
                case .valid(let event):
                    insert.bind(1, event.timestamp)
                    insert.bindText(2, event.userId)
                    insert.bindText(3, event.episodeId)
                    insert.bindStatic(4, event.eventType.staticName)
                    if let duration = event.duration { insert.bind(5, duration) } else { insert.bindNull(5) }
                    insert.bind(6, fileId)
                    insert.bind(7, lineNo)
                    if try insert.run() == 1 {
                        outcome = "silver"
                        fileCounts.rowsLoaded += 1
                    } else {
                        outcome = "duplicate"
                        fileCounts.rowsDuplicate += 1
                    }
                case .invalid(let errors):
                    outcome = "rejected"
                    codes = errors.text
                    fileCounts.rowsRejected += 1
                    fileCounts.noteError(errors.text, line: lineNo)
                }
                if outcome != oldOutcome || codes != oldCodes {
                    changed += 1
                    change.bind(1, bronzeId)
                    change.bindText(2, outcome)
                    if let codes { change.bindText(3, codes) } else { change.bindNull(3) }
                    _ = try change.run()
                }
            }
            guard rc == SQLITE_DONE else {
                throw PipelineError.database(
                    message: "reading bronze_event of file \(fileId): SQLite code \(rc)", file: nil)
            }
            counts[fileId] = fileCounts
        }
        return (rows, kept, changed, keptPruned)
    }

    static func text(_ handle: OpaquePointer, _ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(handle, column) else { return nil }
        return String(cString: pointer)
    }

    /// Rows per code over event bronze (a row with several codes counts under each).
    func codeCounts(_ db: Database) throws -> [String: Int64] {
        var result: [String: Int64] = [:]
        let rows = try Row.fetchAll(
            db,
            sql:
                "SELECT error_codes, count(*) AS n FROM bronze_event WHERE outcome = 'rejected' GROUP BY error_codes"
        )
        for row in rows {
            let codes: String = row["error_codes"] ?? ""
            let n: Int64 = row["n"] ?? 0
            for code in codes.split(separator: ",") { result[String(code), default: 0] += n }
        }
        return result
    }

    /// Writes the new per-file counts into the ledger; returns the files that changed.
    func updateLedger(_ db: Database, before: [Row], counts: [Int64: FileLoadCounts]) throws
        -> [FileCountChange]
    {
        var changes: [FileCountChange] = []
        let update = try db.makeStatement(
            sql: """
                UPDATE ingest_file
                SET rows_loaded = ?, rows_rejected = ?, rows_duplicate = ?,
                    first_error = ?, first_error_line = ?, message = ?
                WHERE file_id = ?
                """)
        for row in before {
            let fileId: Int64 = row["file_id"] ?? 0
            guard let after = counts[fileId] else { continue }
            let loaded: Int64 = row["rows_loaded"] ?? 0
            let rejected: Int64 = row["rows_rejected"] ?? 0
            let duplicate: Int64 = row["rows_duplicate"] ?? 0
            let firstError: String? = row["first_error"]
            let firstErrorLine: Int64? = row["first_error_line"]
            guard
                loaded != after.rowsLoaded || rejected != after.rowsRejected
                    || duplicate != after.rowsDuplicate || firstError != after.firstError
                    || firstErrorLine != after.firstErrorLine
            else { continue }
            // The loader's own "N row(s) rejected; first: …" message follows the counts;
            // any other message (a new version…) is kept.
            var message: String? = row["message"]
            if message == nil || message?.contains("row(s) rejected; first: line") == true {
                message =
                    after.rowsRejected > 0
                    ? "\(after.rowsRejected) row(s) rejected; first: line \(after.firstErrorLine ?? 0): \(after.firstError ?? "")"
                    : nil
            }
            try update.execute(arguments: [
                after.rowsLoaded, after.rowsRejected, after.rowsDuplicate, after.firstError,
                after.firstErrorLine, message, fileId,
            ])
            changes.append(
                FileCountChange(
                    fileId: fileId, name: row["name"] ?? "", kind: row["kind"] ?? "",
                    loadedBefore: loaded, loadedAfter: after.rowsLoaded, rejectedBefore: rejected,
                    rejectedAfter: after.rowsRejected, duplicateBefore: duplicate,
                    duplicateAfter: after.rowsDuplicate))
        }
        return changes.sorted { $0.fileId < $1.fileId }
    }
}
