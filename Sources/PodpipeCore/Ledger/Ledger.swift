import Foundation
import GRDB

/// The ledger's SQL, all of it for `ingest_file`'s rows as the ingest reads and writes them
/// (SPEC §3): a file's row is inserted first in its transaction (the claim), then settled.
enum Ledger {
    /// The newest ledger row for each name, keyed by the name's bytes (``nameKey(_:)``).
    ///
    /// Only the columns that tell whether a file in the folder is settled, read by position:
    /// decoding whole ``LedgerEntry`` records (Codable, snake-case keys converted per column)
    /// is the cost of `podpipectl status` and of every daemon pass on a large ledger.
    static func latestByName(_ db: Database) throws -> [[UInt8]: LedgerSettlement] {
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT name, state, size_bytes, mtime_ns, next_attempt_at, change_ns, inode, file_id
                FROM ingest_file ORDER BY file_id
                """
        )
        var result: [[UInt8]: LedgerSettlement] = [:]
        while let row = try rows.next() {
            let name: String = row[0]
            guard let state = LedgerState.fromDatabaseValue(row[1]) else {
                throw PipelineError.database(
                    message: "the ledger row of \(name) has an unknown state \(row[1] as DatabaseValue)",
                    file: name)
            }
            result[nameKey(name)] = LedgerSettlement(
                state: state, sizeBytes: row[2], mtimeNs: row[3], nextAttemptAt: row[4], changeNs: row[5],
                inode: row[6], fileId: row[7])
        }
        return result
    }

    /// A file name as the ledger tells names apart: by bytes, as SQLite compares them.
    /// (`String ==` is Unicode canonical equivalence: "café" spelled with a precomposed "é"
    /// and with "e" + a combining accent are equal Strings but two files on Linux.)
    static func nameKey(_ name: String) -> [UInt8] {
        Array(name.utf8)
    }

    /// The loaded or rejected entry whose bytes have this SHA-256 and that was read as the
    /// same kind, if any. A file's identity is its bytes *as a kind*: the same bytes read
    /// as another kind are another interpretation (a users export misnamed `episodes-….csv`
    /// and rejected for its header is not "known" when it comes back correctly named).
    static func original(withSHA256 sha: String, kind: FileKind, _ db: Database) throws
        -> LedgerEntry?
    {
        try LedgerEntry.fetchOne(
            db,
            sql: """
                SELECT * FROM ingest_file
                WHERE sha256 = ? AND kind = ? AND state IN ('loaded', 'rejected')
                ORDER BY file_id LIMIT 1
                """, arguments: [sha, kind])
    }

    /// Whether a loaded or rejected entry of `kind` other than `fileId` has exactly this
    /// many bytes (cheap test before hashing a file whose bytes may already be known).
    /// `fileId` is the entry being loaded: the ledger row it inserted first has the same size.
    static func hasFile(ofSize size: Int64, kind: FileKind, other fileId: Int64, _ db: Database)
        throws -> Bool
    {
        try Bool.fetchOne(
            db,
            sql: """
                SELECT EXISTS (SELECT 1 FROM ingest_file
                               WHERE size_bytes = ? AND kind = ? AND state IN ('loaded', 'rejected')
                                 AND file_id <> ?)
                """, arguments: [size, kind, fileId]) ?? false
    }

    /// The earliest `next_attempt_at` of the files recorded `failed` (nil: none).
    static func nextRetryAt(_ db: Database) throws -> String? {
        try String.fetchOne(
            db, sql: "SELECT min(next_attempt_at) FROM ingest_file WHERE state = 'failed'")
    }

    static func counts(_ db: Database) throws -> [LedgerState: Int] {
        try counts(SQLiteQueries(db: db))
    }

    /// ``counts(_:)-(Database)`` through the read seam (any engine).
    static func counts(_ store: some QueryRunner) throws -> [LedgerState: Int] {
        var result: [LedgerState: Int] = [:]
        for state in LedgerState.allCases { result[state] = 0 }
        let table = try store.table("SELECT state, count(*) AS n FROM ingest_file GROUP BY state", [])
        for row in table.rows where row.count == 2 {
            if let state = row[0].stringValue.flatMap(LedgerState.init(rawValue:)) {
                result[state] = Int(clamping: row[1].int64Value ?? 0)
            }
        }
        return result
    }

    /// The candidates the ledger has not settled, in their order: new names, names whose
    /// size, modification time, status-change time or inode moved since their newest entry
    /// (``LedgerSettlement/settles(_:)``), and `failed` files (when
    /// their retry is due, or always with `ignoreBackoff`). The one rule for a pass and for
    /// `status`'s count of files waiting.
    static func unsettled(
        _ candidates: [Candidate], latest: [[UInt8]: LedgerSettlement], now: Date, ignoreBackoff: Bool
    ) -> [Candidate] {
        let nowText = ISOTime.format(now)
        return candidates.filter { candidate in
            guard let entry = latest[nameKey(candidate.name)] else { return true }
            if entry.state == .failed {
                return ignoreBackoff || (entry.nextAttemptAt ?? "") <= nowText
            }
            return !entry.settles(candidate)
        }
    }

    /// The candidates whose newest entry is final (loaded, rejected, duplicate) and settles
    /// them: files committed and still in the folder (the after-commit stage moves them; in
    /// `keep` mode, every file loaded so far). The complement of ``unsettled(_:latest:now:ignoreBackoff:)``
    /// but for `failed` files.
    static func settledFinal(_ candidates: [Candidate], latest: [[UInt8]: LedgerSettlement])
        -> [(candidate: Candidate, entry: LedgerSettlement)]
    {
        candidates.compactMap { candidate in
            guard let entry = latest[nameKey(candidate.name)], entry.state != .failed,
                entry.settles(candidate)
            else { return nil }
            return (candidate, entry)
        }
    }

    /// The count of ledger entries by where their file went (migration 0010).
    static func disposalCounts(_ db: Database) throws -> [AfterCommitDestination: Int] {
        try disposalCounts(SQLiteQueries(db: db))
    }

    /// ``disposalCounts(_:)-(Database)`` through the read seam (any engine).
    static func disposalCounts(_ store: some QueryRunner) throws -> [AfterCommitDestination: Int] {
        var result: [AfterCommitDestination: Int] = [:]
        let table = try store.table(
            "SELECT disposal, count(*) AS n FROM ingest_file WHERE disposal IS NOT NULL GROUP BY disposal", []
        )
        for row in table.rows where row.count == 2 {
            if let destination = row[0].stringValue.flatMap(AfterCommitDestination.init(rawValue:)) {
                result[destination] = Int(clamping: row[1].int64Value ?? 0)
            }
        }
        return result
    }

    /// Records where the file of entry `fileId` went (after the rename or unlink).
    static func recordDisposal(
        fileId: Int64, _ destination: AfterCommitDestination, path: String?, at: Date, _ db: Database
    ) throws {
        try db.execute(
            sql: "UPDATE ingest_file SET disposal = ?, disposed_to = ?, disposed_at = ? WHERE file_id = ?",
            arguments: [destination.rawValue, path, ISOTime.format(at), fileId])
    }

    // MARK: - The ingest's writes

    /// Starts a file's entry: inserts it (the row is the claim, in the file's transaction),
    /// after forgetting a `failed` row of the same name (its attempts carry on).
    static func claim(_ entry: LedgerEntry, _ db: Database) throws -> LedgerClaim {
        var entry = entry
        if let failed = try LedgerEntry.fetchOne(
            db,
            sql:
                "SELECT * FROM ingest_file WHERE name = ? AND state = 'failed' ORDER BY file_id DESC LIMIT 1",
            arguments: [entry.name])
        {
            entry.attempts = failed.attempts + 1
            try db.execute(
                sql: "DELETE FROM ingest_file WHERE name = ? AND state = 'failed'", arguments: [entry.name])
        }
        let previous = try latestSettled(named: entry.name, db)
        try entry.insert(db)
        guard let fileId = entry.fileId else {
            throw PipelineError.database(message: "ledger insert returned no id", file: entry.name)
        }
        return LedgerClaim(fileId: fileId, attempts: entry.attempts, previous: previous)
    }

    /// The newest entry under `name` that did not fail.
    static func latestSettled(named name: String, _ db: Database) throws -> LedgerEntry? {
        try LedgerEntry.fetchOne(
            db,
            sql:
                "SELECT * FROM ingest_file WHERE name = ? AND state <> 'failed' ORDER BY file_id DESC LIMIT 1",
            arguments: [name])
    }

    /// The file's bytes are already recorded under its own name: drops the new entry and
    /// moves the original's timestamp (so the next listing sees it settled), keeping the
    /// newest time its bytes were seen with (`delivered_mtime_ns`: their place in the
    /// reference order, ``referencePlaces(ofFile:_:)``).
    static func settleUnchanged(_ entry: LedgerEntry, original: LedgerEntry, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM ingest_file WHERE file_id = ?", arguments: [entry.fileId])
        try db.execute(
            sql: """
                UPDATE ingest_file
                SET delivered_mtime_ns = max(coalesce(delivered_mtime_ns, mtime_ns), ?4),
                    mtime = ?1, mtime_ns = ?4, change_ns = ?2, inode = ?3
                WHERE file_id = ?5
                """,
            arguments: [entry.mtime, entry.changeNs, entry.inode, entry.mtimeNs, original.fileId])
    }

    // MARK: - The reference order

    /// The place in the reference order (``ReferenceOrder``) of every file recorded `loaded`
    /// of kind episodes or users, or of `fileId` alone: the newest delivery of its bytes, the
    /// latest (mtime, name) among the file itself (the newest time its bytes were seen with
    /// under its name: `delivered_mtime_ns`, migration 0008) and the entries recorded
    /// `duplicate` with the same bytes read as the same kind. By digest, not by
    /// `duplicate_of`: a copy keeps counting when the original is forgotten by `reprocess`
    /// and loaded again.
    static func referencePlaces(ofFile fileId: Int64? = nil, _ db: Database) throws
        -> [Int64: ReferencePlace]
    {
        try referencePlaces(ofFile: fileId, SQLiteQueries(db: db))
    }

    /// ``referencePlaces(ofFile:_:)`` through the read seam: the same SQL on both engines.
    static func referencePlaces(ofFile fileId: Int64? = nil, _ db: any QueryRunner) throws
        -> [Int64: ReferencePlace]
    {
        struct Bytes: Hashable {
            var sha256: String
            var kind: String
        }
        let only = fileId == nil ? "" : "AND file_id = $1"
        let arguments: [ReportValue] = fileId.map { [.integer($0)] } ?? []
        var places: [Int64: ReferencePlace] = [:]
        var files: [Bytes: [Int64]] = [:]
        let own = try db.table(
            """
            SELECT file_id, sha256, kind,
                   CASE WHEN coalesce(delivered_mtime_ns, mtime_ns) > mtime_ns
                        THEN delivered_mtime_ns ELSE mtime_ns END,
                   name
            FROM ingest_file
            WHERE state = 'loaded' AND kind <> 'events' \(only)
            """, arguments)
        for row in own.rows where row.count == 5 {
            let id = row[0].int64Value ?? 0
            places[id] = ReferencePlace(mtimeNs: row[3].int64Value ?? 0, name: row[4].stringValue ?? "")
            files[Bytes(sha256: row[1].stringValue ?? "", kind: row[2].stringValue ?? ""), default: []]
                .append(id)
        }
        guard !files.isEmpty else { return [:] }
        let copies = try db.table(
            """
            SELECT sha256, kind, mtime_ns, name FROM ingest_file
            WHERE state = 'duplicate' AND kind <> 'events'
              \(fileId == nil ? "" : "AND (sha256, kind) = (SELECT sha256, kind FROM ingest_file WHERE file_id = $1)")
            """, arguments)
        for row in copies.rows where row.count == 4 {
            let copy = ReferencePlace(mtimeNs: row[2].int64Value ?? 0, name: row[3].stringValue ?? "")
            for id in files[Bytes(sha256: row[0].stringValue ?? "", kind: row[1].stringValue ?? "")] ?? [] {
                if let place = places[id], place < copy { places[id] = copy }
            }
        }
        return places
    }

    /// The file's final entry.
    static func record(_ entry: LedgerEntry, _ db: Database) throws {
        try entry.update(db)
    }

    /// Records (or updates) the `failed` entry of a file none of which was committed, with
    /// the time of its next attempt: `backoff` seconds doubled per attempt, capped at 1 h.
    static func recordFailure(
        _ candidate: Candidate, message: String, started: Date, backoff: Double, _ db: Database
    ) throws -> LedgerEntry {
        let previous = try LedgerEntry.fetchOne(
            db,
            sql:
                "SELECT * FROM ingest_file WHERE name = ? AND state = 'failed' ORDER BY file_id DESC LIMIT 1",
            arguments: [candidate.name])
        var entry = failureEntry(
            candidate, previous: previous, message: message, started: started, backoff: backoff)
        try entry.save(db)
        return entry
    }

    /// The `failed` entry of a failed attempt at `candidate` (`previous`: its `failed` entry
    /// so far, updated in place): its next attempt `backoff` seconds on, doubled per
    /// attempt, capped at 1 h. Both engines record it.
    static func failureEntry(
        _ candidate: Candidate, previous: LedgerEntry?, message: String, started: Date, backoff: Double
    ) -> LedgerEntry {
        let attempts = (previous?.attempts ?? 0) + 1
        let finished = Date()
        let delay = min(3600.0, max(0, backoff) * pow(2.0, Double(min(attempts - 1, 12))))
        var entry =
            previous
            ?? LedgerEntry(
                fileId: nil, name: candidate.name, kind: candidate.kind, sha256: "",
                sizeBytes: candidate.size, mtime: ISOTime.format(nanoseconds: candidate.mtimeNs),
                mtimeNs: candidate.mtimeNs, state: .failed, startedAt: ISOTime.format(started),
                finishedAt: ISOTime.format(finished))
        entry.attempts = attempts
        entry.message = message
        entry.firstError = message
        entry.sizeBytes = candidate.size
        entry.mtimeNs = candidate.mtimeNs
        entry.changeNs = candidate.changeNs
        entry.inode = candidate.inode
        entry.nextAttemptAt = ISOTime.format(finished.addingTimeInterval(delay))
        entry.finishedAt = ISOTime.format(finished)
        entry.durationMs = ISOTime.milliseconds(from: started, to: finished)
        return entry
    }
}

// MARK: - PostgreSQL

/// Where a host's names live on a shared PostgreSQL database: a name is a name in one drop
/// folder of one host (`ingest_file.host`, `data_load`). Look-ups by name stay in the scope;
/// look-ups by bytes span every host.
struct LedgerScope: Sendable, Equatable {
    var host: String
    var dataLoad: String
}

/// The ledger's SQL on PostgreSQL: the same reads and writes of `ingest_file` as ``Ledger``,
/// in PostgreSQL's dialect, by-name look-ups within a ``LedgerScope``.
enum PostgresLedger {
    /// The columns of ``LedgerEntry``, in the order ``entry(_:)`` reads them.
    static let columns = """
        file_id, name, kind, sha256, size_bytes, mtime, mtime_ns, state, duplicate_of, previous_version, \
        rows_read, rows_loaded, rows_rejected, rows_duplicate, first_error, first_error_line, message, \
        attempts, next_attempt_at, started_at, finished_at, duration_ms, bronze_first_id, bronze_last_id, \
        change_ns, inode, disposal, disposed_to, disposed_at
        """

    /// A row of ``columns`` as an entry.
    static func entry(_ row: [String?]) throws -> LedgerEntry {
        func text(_ index: Int) -> String? { index < row.count ? row[index] : nil }
        func int(_ index: Int) -> Int64? { text(index).flatMap { Int64($0) } }
        let name = text(1) ?? ""
        guard let kind = text(2).flatMap(FileKind.init(rawValue:)),
            let state = text(7).flatMap(LedgerState.init(rawValue:))
        else {
            throw PipelineError.database(
                message: "the ledger row of \(name) has an unknown kind or state", file: name)
        }
        return LedgerEntry(
            fileId: int(0), name: name, kind: kind, sha256: text(3) ?? "", sizeBytes: int(4) ?? 0,
            mtime: text(5) ?? "", mtimeNs: int(6) ?? 0, state: state, duplicateOf: int(8),
            previousVersion: int(9), rowsRead: int(10) ?? 0, rowsLoaded: int(11) ?? 0,
            rowsRejected: int(12) ?? 0, rowsDuplicate: int(13) ?? 0, firstError: text(14),
            firstErrorLine: int(15), message: text(16), attempts: int(17) ?? 1, nextAttemptAt: text(18),
            startedAt: text(19) ?? "", finishedAt: text(20) ?? "", durationMs: int(21) ?? 0,
            bronzeFirstId: int(22), bronzeLastId: int(23), changeNs: int(24), inode: int(25),
            disposal: text(26).flatMap(AfterCommitDestination.init(rawValue:)), disposedTo: text(27),
            disposedAt: text(28))
    }

    /// The entry's values in ``columns`` order, without file_id.
    private static func values(_ entry: LedgerEntry) -> [String?] {
        [
            entry.name, entry.kind.rawValue, entry.sha256, String(entry.sizeBytes), entry.mtime,
            String(entry.mtimeNs), entry.state.rawValue, entry.duplicateOf.map(String.init),
            entry.previousVersion.map(String.init), String(entry.rowsRead), String(entry.rowsLoaded),
            String(entry.rowsRejected), String(entry.rowsDuplicate), entry.firstError,
            entry.firstErrorLine.map(String.init), entry.message, String(entry.attempts), entry.nextAttemptAt,
            entry.startedAt, entry.finishedAt, String(entry.durationMs), entry.bronzeFirstId.map(String.init),
            entry.bronzeLastId.map(String.init), entry.changeNs.map(String.init),
            entry.inode.map(String.init),
            entry.disposal?.rawValue, entry.disposedTo, entry.disposedAt,
        ]
    }

    private static var valueColumns: [Substring] {
        columns.split(separator: ",").dropFirst().map { $0.drop { $0 == " " } }
    }

    private static func fetch(_ sql: String, _ parameters: [String?], _ connection: PostgresConnection)
        throws -> LedgerEntry?
    {
        guard let row = try connection.query(sql, parameters).rows.first else { return nil }
        return try entry(row)
    }

    /// ``Ledger/latestByName(_:)`` within `scope`.
    static func latestByName(_ scope: LedgerScope, _ connection: PostgresConnection) throws
        -> [[UInt8]: LedgerSettlement]
    {
        let rows = try connection.query(
            """
            SELECT name, state, size_bytes, mtime_ns, next_attempt_at, change_ns, inode, file_id
            FROM ingest_file WHERE host = $1 AND data_load = $2 ORDER BY file_id
            """, [scope.host, scope.dataLoad])
        var result: [[UInt8]: LedgerSettlement] = [:]
        for row in rows.rows {
            let name = row[0] ?? ""
            guard let state = row[1].flatMap(LedgerState.init(rawValue:)) else {
                throw PipelineError.database(
                    message: "the ledger row of \(name) has an unknown state", file: name)
            }
            result[Ledger.nameKey(name)] = LedgerSettlement(
                state: state, sizeBytes: row[2].flatMap { Int64($0) } ?? 0,
                mtimeNs: row[3].flatMap { Int64($0) } ?? 0, nextAttemptAt: row[4],
                changeNs: row[5].flatMap { Int64($0) }, inode: row[6].flatMap { Int64($0) },
                fileId: row[7].flatMap { Int64($0) })
        }
        return result
    }

    /// ``Ledger/original(withSHA256:kind:_:)``, on every host's rows.
    static func original(withSHA256 sha: String, kind: FileKind, _ connection: PostgresConnection)
        throws -> (entry: LedgerEntry, scope: LedgerScope)?
    {
        guard
            let row = try connection.query(
                """
                SELECT \(columns), host, data_load FROM ingest_file
                WHERE sha256 = $1 AND kind = $2 AND state IN ('loaded', 'rejected')
                ORDER BY file_id LIMIT 1
                """, [sha, kind.rawValue]
            ).rows.first
        else { return nil }
        let count = row.count
        return (try entry(row), LedgerScope(host: row[count - 2] ?? "", dataLoad: row[count - 1] ?? ""))
    }

    /// ``Ledger/hasFile(ofSize:kind:other:_:)``, on every host's rows.
    static func hasFile(
        ofSize size: Int64, kind: FileKind, other fileId: Int64, _ connection: PostgresConnection
    ) throws -> Bool {
        try connection.query(
            """
            SELECT EXISTS (SELECT 1 FROM ingest_file
                           WHERE size_bytes = $1 AND kind = $2 AND state IN ('loaded', 'rejected')
                             AND file_id <> $3)
            """, [String(size), kind.rawValue, String(fileId)]
        ).scalar == "t"
    }

    /// The earliest `next_attempt_at` of the scope's `failed` files (nil: none).
    static func nextRetryAt(_ scope: LedgerScope, _ connection: PostgresConnection) throws -> String? {
        try connection.query(
            "SELECT min(next_attempt_at) FROM ingest_file WHERE state = 'failed' AND host = $1 AND data_load = $2",
            [scope.host, scope.dataLoad]
        ).scalar
    }

    /// ``Ledger/claim(_:_:)``: the row inserted first in the file's transaction.
    static func claim(_ entry: LedgerEntry, _ scope: LedgerScope, _ connection: PostgresConnection)
        throws -> LedgerClaim
    {
        var entry = entry
        if let failed = try fetch(
            """
            SELECT \(columns) FROM ingest_file
            WHERE host = $1 AND data_load = $2 AND name = $3 AND state = 'failed'
            ORDER BY file_id DESC LIMIT 1
            """, [scope.host, scope.dataLoad, entry.name], connection)
        {
            entry.attempts = failed.attempts + 1
            try connection.query(
                "DELETE FROM ingest_file WHERE host = $1 AND data_load = $2 AND name = $3 AND state = 'failed'",
                [scope.host, scope.dataLoad, entry.name])
        }
        let previous = try latestSettled(named: entry.name, scope, connection)
        let fileId = try insert(entry, scope, connection)
        return LedgerClaim(fileId: fileId, attempts: entry.attempts, previous: previous)
    }

    private static func insert(_ entry: LedgerEntry, _ scope: LedgerScope, _ connection: PostgresConnection)
        throws -> Int64
    {
        let names = valueColumns.joined(separator: ", ")
        let count = valueColumns.count
        let placeholders = (1...(count + 2)).map { "$\($0)" }.joined(separator: ", ")
        let id = try connection.query(
            "INSERT INTO ingest_file (\(names), host, data_load) VALUES (\(placeholders)) RETURNING file_id",
            values(entry) + [scope.host, scope.dataLoad]
        ).scalar
        guard let id, let fileId = Int64(id) else {
            throw PipelineError.database(message: "ledger insert returned no id", file: entry.name)
        }
        return fileId
    }

    /// ``Ledger/latestSettled(named:_:)`` within `scope`.
    static func latestSettled(named name: String, _ scope: LedgerScope, _ connection: PostgresConnection)
        throws -> LedgerEntry?
    {
        try fetch(
            """
            SELECT \(columns) FROM ingest_file
            WHERE host = $1 AND data_load = $2 AND name = $3 AND state <> 'failed'
            ORDER BY file_id DESC LIMIT 1
            """, [scope.host, scope.dataLoad, name], connection)
    }

    /// ``Ledger/settleUnchanged(_:original:_:)``.
    static func settleUnchanged(_ entry: LedgerEntry, original: LedgerEntry, _ connection: PostgresConnection)
        throws
    {
        try connection.query("DELETE FROM ingest_file WHERE file_id = $1", [entry.fileId.map(String.init)])
        try connection.query(
            """
            UPDATE ingest_file
            SET delivered_mtime_ns = greatest(coalesce(delivered_mtime_ns, mtime_ns), $4::bigint),
                mtime = $1, mtime_ns = $4, change_ns = $2, inode = $3
            WHERE file_id = $5
            """,
            [
                entry.mtime, entry.changeNs.map(String.init), entry.inode.map(String.init),
                String(entry.mtimeNs),
                original.fileId.map(String.init),
            ])
    }

    /// ``Ledger/record(_:_:)``: the file's final entry.
    static func record(_ entry: LedgerEntry, _ connection: PostgresConnection) throws {
        let assignments = valueColumns.enumerated().map { "\($1) = $\($0 + 1)" }.joined(separator: ", ")
        try connection.query(
            "UPDATE ingest_file SET \(assignments) WHERE file_id = $\(valueColumns.count + 1)",
            values(entry) + [entry.fileId.map(String.init)])
    }

    /// Whether the final entry `entry` is committed: after a COMMIT whose reply was lost.
    static func isRecorded(_ entry: LedgerEntry, _ connection: PostgresConnection) throws -> Bool {
        guard let fileId = entry.fileId else { return false }
        return try connection.query(
            "SELECT state FROM ingest_file WHERE file_id = $1 AND started_at = $2",
            [String(fileId), entry.startedAt]
        ).scalar == entry.state.rawValue
    }

    /// ``Ledger/recordDisposal(fileId:_:path:at:_:)``: where the file of an entry went.
    static func recordDisposal(_ disposal: Disposal, at date: Date, _ connection: PostgresConnection) throws {
        try connection.query(
            "UPDATE ingest_file SET disposal = $1, disposed_to = $2, disposed_at = $3 WHERE file_id = $4",
            [disposal.destination.rawValue, disposal.path, ISOTime.format(date), String(disposal.fileId)])
    }

    /// ``Ledger/recordFailure(_:message:started:backoff:_:)`` within `scope`.
    static func recordFailure(
        _ candidate: Candidate, message: String, started: Date, backoff: Double, _ scope: LedgerScope,
        _ connection: PostgresConnection
    ) throws -> LedgerEntry {
        let previous = try fetch(
            """
            SELECT \(columns) FROM ingest_file
            WHERE host = $1 AND data_load = $2 AND name = $3 AND state = 'failed'
            ORDER BY file_id DESC LIMIT 1
            """, [scope.host, scope.dataLoad, candidate.name], connection)
        var entry = Ledger.failureEntry(
            candidate, previous: previous, message: message, started: started, backoff: backoff)
        if previous == nil {
            entry.fileId = try insert(entry, scope, connection)
        } else {
            try record(entry, connection)
        }
        return entry
    }

    /// ``Ledger/referencePlaces(ofFile:_:)`` for one loaded reference file.
    static func referencePlace(ofFile fileId: Int64, _ connection: PostgresConnection) throws
        -> ReferencePlace?
    {
        guard
            let own = try connection.query(
                """
                SELECT greatest(mtime_ns, coalesce(delivered_mtime_ns, mtime_ns)), name FROM ingest_file
                WHERE state = 'loaded' AND kind <> 'events' AND file_id = $1
                """, [String(fileId)]
            ).rows.first
        else { return nil }
        var place = ReferencePlace(mtimeNs: own[0].flatMap { Int64($0) } ?? 0, name: own[1] ?? "")
        for row in try connection.query(
            """
            SELECT mtime_ns, name FROM ingest_file
            WHERE state = 'duplicate' AND kind <> 'events'
              AND (sha256, kind) = (SELECT sha256, kind FROM ingest_file WHERE file_id = $1)
            """, [String(fileId)]
        ).rows {
            let copy = ReferencePlace(mtimeNs: row[0].flatMap { Int64($0) } ?? 0, name: row[1] ?? "")
            if place < copy { place = copy }
        }
        return place
    }
}

/// `pipeline_state` on PostgreSQL (``PipelineState``'s keys and meaning).
enum PostgresPipelineState {
    static func get(_ key: PipelineStateKey, _ connection: PostgresConnection) throws -> String? {
        try connection.query("SELECT value FROM pipeline_state WHERE key = $1", [key.rawValue]).scalar
    }

    static func set(_ key: PipelineStateKey, _ value: String?, _ connection: PostgresConnection) throws {
        try connection.query(
            """
            INSERT INTO pipeline_state (key, value) VALUES ($1, $2)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value
            """, [key.rawValue, value])
    }

    /// Adds one, in one statement (hosts increment the same counters).
    static func increment(_ key: PipelineStateKey, _ connection: PostgresConnection) throws {
        try connection.query(
            """
            INSERT INTO pipeline_state (key, value) VALUES ($1, '1')
            ON CONFLICT (key) DO UPDATE SET value = (
                CASE WHEN pipeline_state.value ~ '^[0-9]{1,18}$' THEN pipeline_state.value::bigint ELSE 0 END + 1
            )::text
            """, [key.rawValue])
    }
}
