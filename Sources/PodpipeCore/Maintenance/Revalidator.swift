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

    /// Runs the revalidation in one transaction on the writer; a dry run rolls it back and
    /// skips gold.
    func run(_ writer: any MaintenanceWriter, dryRun: Bool) throws -> RevalidateSummary {
        try writer.maintenanceTransaction { db in (try run(db, dryRun: dryRun), !dryRun) }
    }

    /// ``run(_:dryRun:)`` on a GRDB connection inside the caller's transaction.
    func run(_ db: Database, dryRun: Bool) throws -> RevalidateSummary {
        try run(SQLiteQueries(db: db), dryRun: dryRun)
    }

    /// The revalidation inside the caller's transaction (the caller commits or rolls back),
    /// on either engine: its own `revalidate_*.sql`, and its own scan of bronze
    /// (``MaintenanceDatabase/scanBronzeEvents(_:counts:)``).
    func run(_ db: any MaintenanceDatabase, dryRun: Bool) throws -> RevalidateSummary {
        let started = DispatchTime.now().uptimeNanoseconds
        try db.holdSilverWriters()
        let silverBefore = try db.scalar("SELECT count(*) FROM silver_event")?.int64Value ?? 0
        let ledgerBefore = try db.table(
            """
            SELECT file_id, name, kind, rows_loaded, rows_rejected, rows_duplicate, first_error,
                   first_error_line, message
            FROM ingest_file WHERE state = 'loaded'
            """, []
        ).rows
        let codesBefore = try codeCounts(db)

        try db.executeScript(try db.resource("maintenance", "revalidate_events_setup"))
        var counts: [Int64: FileLoadCounts] = [:]
        let scan = try db.scanBronzeEvents(self, counts: &counts)

        var replay = ReferenceReplay()
        let reference = try replay.run(db, apply: true)
        for (fileId, fileCounts) in replay.fileCounts { counts[fileId] = fileCounts }

        guard
            let diff = try db.table(try db.resource("maintenance", "revalidate_events_diff"), []).rows.first,
            diff.count == 3
        else { throw PipelineError.database(message: "revalidate diff returned no row", file: nil) }
        let added = diff[0].int64Value ?? 0
        let removed = diff[1].int64Value ?? 0
        let changed = diff[2].int64Value ?? 0
        try db.executeScript(try db.resource("maintenance", "revalidate_events_apply"))

        let files = try updateLedger(db, before: ledgerBefore, counts: counts)
        let nowText = ISOTime.format(now)
        var summary = RevalidateSummary(
            dryRun: dryRun, bronzeEvents: scan.rows, keptMalformed: scan.keptMalformed,
            keptPruned: scan.keptPruned,
            silverEventsBefore: silverBefore,
            silverEventsAfter: try db.scalar("SELECT count(*) FROM silver_event")?.int64Value ?? 0,
            eventsAdded: added, eventsRemoved: removed, eventsChanged: changed,
            bronzeEventRowsChanged: scan.bronzeChanged, codesBefore: codesBefore,
            codesAfter: try codeCounts(db), reference: reference, files: files,
            durationMs: 0)
        try db.executeScript(
            """
            DROP TABLE IF EXISTS revalidated_event; DROP TABLE IF EXISTS revalidated_bronze;
            DROP TABLE IF EXISTS pruned_silver
            """)
        if !dryRun {
            try db.incrementState(.silverGeneration)
            try db.setState(.silverLastChangeAt, nowText)
            summary.generation = try db.pipelineState(.silverGeneration)
            let gold = try db.rebuildGold(now: now)
            summary.goldMode = gold.mode.rawValue
            summary.goldDurationMs = gold.durationMs
        }
        summary.durationMs = Int((DispatchTime.now().uptimeNanoseconds &- started) / 1_000_000)
        return summary
    }

    /// What the scan of bronze found.
    struct ScanTally: Equatable {
        var rows: Int64 = 0
        var keptMalformed: Int64 = 0
        var bronzeChanged: Int64 = 0
        var keptPruned: Int64 = 0
    }

    /// What the current rules make of one bronze_event row, before the first-wins rule.
    enum Verdict {
        /// Kept as it was: a `malformed_json` row (its stored text may be a prefix) or a
        /// blank one (never stored).
        case kept
        case valid(CleanEvent)
        case invalid(String)
    }

    /// Judges one stored row (`oldCodes` as stored) with `validator`.
    static func verdict(_ raw: UnsafeRawBufferPointer, oldCodes: String?, _ validator: EventValidator)
        -> Verdict
    {
        if oldCodes == EventErrorCode.malformedJSON.rawValue { return .kept }
        switch validator.validate(raw) {
        case .blank: return .kept
        case .valid(let event): return .valid(event)
        case .invalid(let errors): return .invalid(errors.text)
        }
    }

    /// Counts one judged row into `counts` and returns its new outcome and codes, or nil when
    /// it keeps them. `won`: whether a valid row's natural key was new (the first row wins).
    static func settle(
        _ verdict: Verdict, won: Bool, line: Int64, oldOutcome: String, oldCodes: String?,
        counts: inout FileLoadCounts, tally: inout ScanTally
    ) -> (outcome: String, codes: String?)? {
        tally.rows += 1
        counts.rowsRead += 1
        let outcome: String
        var codes: String?
        switch verdict {
        case .kept:
            if oldCodes == EventErrorCode.malformedJSON.rawValue {
                tally.keptMalformed += 1
                counts.rowsRejected += 1
                counts.noteError(EventErrorCode.malformedJSON.rawValue, line: line)
                return nil
            }
            outcome = oldOutcome
            codes = oldCodes
            if oldOutcome == "silver" { counts.rowsLoaded += 1 } else { counts.rowsRejected += 1 }
        case .valid:
            if won {
                outcome = "silver"
                counts.rowsLoaded += 1
            } else {
                outcome = "duplicate"
                counts.rowsDuplicate += 1
            }
        case .invalid(let text):
            outcome = "rejected"
            codes = text
            counts.rowsRejected += 1
            counts.noteError(text, line: line)
        }
        guard outcome != oldOutcome || codes != oldCodes else { return nil }
        tally.bronzeChanged += 1
        return (outcome, codes)
    }

    /// The event files to validate again, in load order, and the pruned ones among them
    /// (file id → its duplicate count): `revalidate_event_files.sql`.
    func eventFiles(_ db: any MaintenanceDatabase) throws -> (files: [Int64], pruned: [Int64: Int64]) {
        let files = try db.table(try db.resource("maintenance", "revalidate_event_files"), []).rows
            .compactMap { $0.first?.int64Value }
        var pruned: [Int64: Int64] = [:]
        for row in try db.table(
            """
            SELECT file_id, rows_duplicate FROM ingest_file
            WHERE bronze_pruned_at IS NOT NULL AND state = 'loaded' AND kind = 'events'
            """, []
        ).rows where row.count == 2 {
            pruned[row[0].int64Value ?? 0] = row[1].int64Value ?? 0
        }
        return (files, pruned)
    }

    /// A file pruned from bronze (`bronze_pruned_at`) first gets its silver rows as they are,
    /// in line order (their lines are gone; `pruned_silver`, made by the setup); its remaining
    /// (rejected) rows are validated again after them. Its pruned duplicate lines stay
    /// counted as duplicates.
    func carryPruned(
        _ db: any MaintenanceDatabase, fileId: Int64, duplicates: Int64, counts: inout FileLoadCounts,
        tally: inout ScanTally
    ) throws {
        let carried =
            try db.scalar("SELECT count(*) FROM pruned_silver WHERE file_id = $1", [.integer(fileId)])?
            .int64Value ?? 0
        let inserted = try db.execute(
            """
            INSERT INTO revalidated_event (ts, user_id, episode_id, event_type, duration, file_id, line_no)
            SELECT ts, user_id, episode_id, event_type, duration, file_id, line_no
            FROM pruned_silver WHERE file_id = $1 ORDER BY line_no
            ON CONFLICT DO NOTHING
            """, [.integer(fileId)])
        tally.keptPruned += inserted
        counts.rowsRead += carried + duplicates
        counts.rowsLoaded += inserted
        counts.rowsDuplicate += carried - inserted + duplicates
    }

    /// SQLite's scan: every bronze_event row of the loaded event files validated again, in
    /// load order (file by file, then line), into `temp.revalidated_event` (first key wins,
    /// `INSERT OR IGNORE`) and `temp.revalidated_bronze` (changes), through raw statements.
    /// Raw bytes are read as stored (no UTF-8 repair), as the loader validated them.
    func scanEvents(_ db: Database, counts: inout [Int64: FileLoadCounts]) throws -> ScanTally {
        let queries = SQLiteQueries(db: db)
        let (files, pruned) = try eventFiles(queries)
        var tally = ScanTally()
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
        for fileId in files {
            var fileCounts = FileLoadCounts()
            if let duplicates = pruned[fileId] {
                try carryPruned(
                    queries, fileId: fileId, duplicates: duplicates, counts: &fileCounts, tally: &tally)
            }
            sqlite3_reset(handle)
            sqlite3_bind_int64(handle, 1, fileId)
            defer { sqlite3_reset(handle) }
            let rc = try RawRows.step(handle) { handle in
                let bronzeId = sqlite3_column_int64(handle, 0)
                let lineNo = sqlite3_column_int64(handle, 1)
                let oldOutcome = Self.text(handle, 3) ?? ""
                let oldCodes = Self.text(handle, 4)
                let rawBytes = sqlite3_column_blob(handle, 2)
                let rawCount = Int(sqlite3_column_bytes(handle, 2))
                let raw = UnsafeRawBufferPointer(start: rawBytes, count: rawBytes == nil ? 0 : rawCount)
                let verdict = Self.verdict(raw, oldCodes: oldCodes, validator)
                var won = false
                if case .valid(let event) = verdict {
                    insert.bind(1, event.timestamp)
                    insert.bindText(2, event.userId)
                    insert.bindText(3, event.episodeId)
                    insert.bindStatic(4, event.eventType.staticName)
                    if let duration = event.duration { insert.bind(5, duration) } else { insert.bindNull(5) }
                    insert.bind(6, fileId)
                    insert.bind(7, lineNo)
                    won = try insert.run() == 1
                }
                guard
                    let new = Self.settle(
                        verdict, won: won, line: lineNo, oldOutcome: oldOutcome, oldCodes: oldCodes,
                        counts: &fileCounts, tally: &tally)
                else { return }
                change.bind(1, bronzeId)
                change.bindText(2, new.outcome)
                if let codes = new.codes { change.bindText(3, codes) } else { change.bindNull(3) }
                _ = try change.run()
            }
            guard rc == SQLITE_DONE else {
                throw PipelineError.database(
                    message: "reading bronze_event of file \(fileId): SQLite code \(rc)", file: nil)
            }
            counts[fileId] = fileCounts
        }
        return tally
    }

    /// PostgreSQL's scan: the same rows in the same order, read a window of bronze_id at a
    /// time; the window's valid events go to a staging table by COPY and into
    /// `revalidated_event` by one `INSERT … ON CONFLICT DO NOTHING RETURNING line_no` in line
    /// order (the first row of a key wins, as SQLite's row-by-row `INSERT OR IGNORE`); the
    /// changed outcomes go to `revalidated_bronze` by COPY.
    func scanEvents(_ db: PostgresMaintenanceQueries, counts: inout [Int64: FileLoadCounts]) throws
        -> ScanTally
    {
        let connection = db.connection
        let (files, pruned) = try eventFiles(db)
        var tally = ScanTally()
        let validator = EventValidator(
            now: Int64(now.timeIntervalSince1970), allowedFutureSkewSeconds: futureSkewSeconds)
        let window: Int64 = 16_384
        func copy(_ sql: String, _ text: [UInt8]) throws {
            guard !text.isEmpty else { return }
            var sent = false
            try connection.copyIn(sql, timeout: 3600) {
                if sent { return nil }
                sent = true
                return text
            }
        }
        for fileId in files {
            var fileCounts = FileLoadCounts()
            if let duplicates = pruned[fileId] {
                try carryPruned(
                    db, fileId: fileId, duplicates: duplicates, counts: &fileCounts, tally: &tally)
            }
            guard
                let range = try connection.query(
                    "SELECT bronze_first_id, bronze_last_id FROM ingest_file WHERE file_id = $1",
                    [String(fileId)]
                ).rows.first, range.count == 2,
                let first = range[0].flatMap({ Int64($0) }), let last = range[1].flatMap({ Int64($0) })
            else {
                counts[fileId] = fileCounts
                continue
            }
            var next = first
            while next <= last {
                let upTo = min(last, next.addingReportingOverflow(window - 1).partialValue)
                let rows = try connection.query(
                    """
                    SELECT bronze_id, line_no, raw, outcome, error_codes FROM bronze_event
                    WHERE bronze_id BETWEEN $1 AND $2 AND file_id = $3 ORDER BY bronze_id
                    """, [String(next), String(upTo), String(fileId)], timeout: 3600
                ).rows
                var verdicts: [Verdict] = []
                verdicts.reserveCapacity(rows.count)
                var stage: [UInt8] = []
                for row in rows where row.count == 5 {
                    var raw = row[2] ?? ""
                    let verdict = raw.withUTF8 { bytes in
                        Self.verdict(UnsafeRawBufferPointer(bytes), oldCodes: row[4], validator)
                    }
                    if case .valid(let event) = verdict {
                        stage.append(
                            contentsOf: PostgresCopyText.line([
                                String(event.timestamp), event.userId, event.episodeId, event.eventType.name,
                                event.duration.map { String($0) }, String(fileId), row[1],
                            ]))
                    }
                    verdicts.append(verdict)
                }
                try connection.execute("TRUNCATE revalidate_stage")
                try copy(
                    "COPY revalidate_stage (ts, user_id, episode_id, event_type, duration, file_id, line_no) FROM STDIN",
                    stage)
                let won = Set(
                    try connection.query(
                        """
                        INSERT INTO revalidated_event (ts, user_id, episode_id, event_type, duration, file_id, line_no)
                        SELECT ts, user_id, episode_id, event_type, duration, file_id, line_no
                        FROM revalidate_stage ORDER BY line_no
                        ON CONFLICT DO NOTHING RETURNING line_no
                        """, timeout: 3600
                    ).rows.compactMap { $0.first.flatMap { $0 }.flatMap { Int64($0) } })
                var changes: [UInt8] = []
                for (row, verdict) in zip(rows.filter { $0.count == 5 }, verdicts) {
                    let line = row[1].flatMap { Int64($0) } ?? 0
                    guard
                        let new = Self.settle(
                            verdict, won: won.contains(line), line: line, oldOutcome: row[3] ?? "",
                            oldCodes: row[4], counts: &fileCounts, tally: &tally)
                    else { continue }
                    changes.append(contentsOf: PostgresCopyText.line([row[0], new.outcome, new.codes]))
                }
                try copy("COPY revalidated_bronze (bronze_id, outcome, error_codes) FROM STDIN", changes)
                next = upTo.addingReportingOverflow(1).partialValue
                if upTo == Int64.max { break }
            }
            counts[fileId] = fileCounts
        }
        return tally
    }

    static func text(_ handle: OpaquePointer, _ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(handle, column) else { return nil }
        return String(cString: pointer)
    }

    /// Rows per code over event bronze (a row with several codes counts under each).
    func codeCounts(_ db: any MaintenanceDatabase) throws -> [String: Int64] {
        var result: [String: Int64] = [:]
        let rows = try db.table(
            "SELECT error_codes, count(*) AS n FROM bronze_event WHERE outcome = 'rejected' GROUP BY error_codes",
            [])
        for row in rows.rows where row.count == 2 {
            let codes = row[0].stringValue ?? ""
            let n = row[1].int64Value ?? 0
            for code in codes.split(separator: ",") { result[String(code), default: 0] += n }
        }
        return result
    }

    /// Writes the new per-file counts into the ledger; returns the files that changed.
    /// `before`: the ledger rows read at the start (the columns of ``run(_:dryRun:)``'s query).
    func updateLedger(
        _ db: any MaintenanceDatabase, before: [[ReportValue]], counts: [Int64: FileLoadCounts]
    ) throws -> [FileCountChange] {
        var changes: [FileCountChange] = []
        for row in before where row.count == 9 {
            let fileId = row[0].int64Value ?? 0
            guard let after = counts[fileId] else { continue }
            let loaded = row[3].int64Value ?? 0
            let rejected = row[4].int64Value ?? 0
            let duplicate = row[5].int64Value ?? 0
            let firstError = row[6].stringValue
            let firstErrorLine = row[7].int64Value
            guard
                loaded != after.rowsLoaded || rejected != after.rowsRejected
                    || duplicate != after.rowsDuplicate || firstError != after.firstError
                    || firstErrorLine != after.firstErrorLine
            else { continue }
            // The loader's own "N row(s) rejected; first: …" message follows the counts;
            // any other message (a new version…) is kept.
            var message = row[8].stringValue
            if message == nil || message?.contains("row(s) rejected; first: line") == true {
                message =
                    after.rowsRejected > 0
                    ? "\(after.rowsRejected) row(s) rejected; first: line \(after.firstErrorLine ?? 0): \(after.firstError ?? "")"
                    : nil
            }
            try db.execute(
                """
                UPDATE ingest_file
                SET rows_loaded = $1, rows_rejected = $2, rows_duplicate = $3,
                    first_error = $4, first_error_line = $5, message = $6
                WHERE file_id = $7
                """,
                [
                    .integer(after.rowsLoaded), .integer(after.rowsRejected), .integer(after.rowsDuplicate),
                    after.firstError.map { .text($0) } ?? .null,
                    after.firstErrorLine.map { .integer($0) } ?? .null, message.map { .text($0) } ?? .null,
                    .integer(fileId),
                ])
            changes.append(
                FileCountChange(
                    fileId: fileId, name: row[1].stringValue ?? "", kind: row[2].stringValue ?? "",
                    loadedBefore: loaded, loadedAfter: after.rowsLoaded, rejectedBefore: rejected,
                    rejectedAfter: after.rowsRejected, duplicateBefore: duplicate,
                    duplicateAfter: after.rowsDuplicate))
        }
        return changes.sorted { $0.fileId < $1.fileId }
    }
}
