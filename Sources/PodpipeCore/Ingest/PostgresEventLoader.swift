import Foundation
import PodpipeRules

/// Loads one NDJSON event file into bronze and silver on PostgreSQL, inside the caller's
/// transaction, with the rules and the per-line counting of ``EventFileLoader`` (the same
/// parser thread, ``FileLoadCounts/count(_:inserted:)``):
///
/// 1. every non-blank line is COPYed (text COPY) into a temporary staging table
///    (`ON COMMIT DROP`, not WAL-logged) with its line number, its raw text, its error
///    codes, and the typed event when valid;
/// 2. silver: one `INSERT … SELECT DISTINCT ON (natural key) … ORDER BY natural key,
///    line_no … ON CONFLICT DO NOTHING RETURNING line_no` — within the file the first line of
///    a key wins, across files and hosts the first committed (a concurrent insert of the same
///    key waits for the other transaction, then does nothing); rows go in natural-key order,
///    so two hosts take the index's locks in the same order (no deadlock between them);
/// 3. bronze: every staged line in line order with its outcome (`silver` for the lines
///    silver returned, `duplicate` for the other valid ones, `rejected`), its bronze_id from
///    a range reserved for the file (consecutive, as SQLite's, for the ledger's
///    bronze_first_id/bronze_last_id) under a short session-level advisory lock.
struct PostgresEventLoader {
    let validator: EventValidator
    let lineReader: LineReader
    let shouldStop: @Sendable () -> Bool
    let connection: PostgresConnection

    static let stageSQL = """
        CREATE TEMP TABLE event_stage (
            line_no bigint, raw text, error_codes text,
            ts bigint, user_id text COLLATE "C", episode_id text COLLATE "C", event_type text COLLATE "C",
            duration bigint
        ) ON COMMIT DROP;
        CREATE TEMP TABLE event_loaded (line_no bigint) ON COMMIT DROP
        """

    static let silverSQL = """
        WITH inserted AS (
            INSERT INTO silver_event (ts, user_id, episode_id, event_type, duration, file_id, line_no)
            SELECT DISTINCT ON (ts, user_id, episode_id, event_type)
                ts, user_id, episode_id, event_type, duration, $1::bigint, line_no
            FROM event_stage WHERE error_codes IS NULL
            ORDER BY ts, user_id, episode_id, event_type, line_no
            ON CONFLICT (ts, user_id, episode_id, event_type) DO NOTHING
            RETURNING line_no
        )
        INSERT INTO event_loaded SELECT line_no FROM inserted
        """

    static let bronzeSQL = """
        INSERT INTO bronze_event (bronze_id, file_id, line_no, raw, outcome, error_codes)
        SELECT $2::bigint + row_number() OVER (ORDER BY s.line_no) - 1, $1::bigint, s.line_no, s.raw,
               CASE WHEN s.error_codes IS NOT NULL THEN 'rejected'
                    WHEN l.line_no IS NOT NULL THEN 'silver'
                    ELSE 'duplicate' END,
               s.error_codes
        FROM event_stage AS s LEFT JOIN event_loaded AS l ON l.line_no = s.line_no
        ORDER BY s.line_no
        """

    func load(source: ChunkSource, fileId: Int64) throws -> FileLoadCounts {
        // A deadline for the file's bulk statements that grows with it (at 1 MB/s, beyond the
        // connection's own): the deadline is for a server that stopped answering.
        let bulkTimeout = connection.timeout + Double(max(0, source.currentSize())) / 1_000_000
        try connection.execute(Self.stageSQL)
        var counts = FileLoadCounts()
        var failure: (any Error)?
        _ = try EventFileLoader.withParser(source: source, validator: validator, lineReader: lineReader) {
            handOff in
            try connection.copyIn("COPY event_stage FROM STDIN", timeout: bulkTimeout) {
                guard failure == nil, let message = handOff.take() else { return nil }
                switch message {
                case .end:
                    return nil
                case .failed(let error):
                    failure = error
                    return nil
                case .batch(let batch):
                    if shouldStop() {
                        failure = PipelineError.interrupted
                        return nil
                    }
                    return Self.copyText(batch, counts: &counts)
                }
            }
        }
        if let failure { throw failure }
        try counts.finishEventFile()
        try connection.query(Self.silverSQL, [String(fileId)], timeout: bulkTimeout)
        let loaded = Int64(try connection.query("SELECT count(*) FROM event_loaded").scalar ?? "") ?? 0
        counts.countValid(loaded: loaded)
        let first = try reserveBronzeIds(counts.rowsRead)
        try connection.query(Self.bronzeSQL, [String(fileId), String(first)], timeout: bulkTimeout)
        if counts.rowsRead > 0 { counts.bronzeIds = first...(first &+ counts.rowsRead &- 1) }
        return counts
    }

    /// The COPY text of a batch's lines (line_no, raw, error_codes, then the event's fields
    /// when valid), counting each line.
    static func copyText(_ batch: ParsedBatch, counts: inout FileLoadCounts) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(batch.bytes.count + batch.lines.count * 64)
        batch.bytes.withUnsafeBytes { bytes in
            for line in batch.lines {
                let outcome = counts.count(line, inserted: nil)
                out.append(contentsOf: String(line.lineNo).utf8)
                out.append(0x09)
                PostgresCopyText.raw(
                    UnsafeRawBufferPointer(rebasing: bytes[line.start..<(line.start + line.length)]),
                    into: &out)
                out.append(0x09)
                if case .valid(let event) = line.outcome {
                    out.append(contentsOf: "\\N\t".utf8)
                    out.append(contentsOf: String(event.timestamp).utf8)
                    out.append(0x09)
                    PostgresCopyText.field(event.userId, into: &out)
                    out.append(0x09)
                    PostgresCopyText.field(event.episodeId, into: &out)
                    out.append(0x09)
                    out.append(contentsOf: event.eventType.name.utf8)
                    out.append(0x09)
                    PostgresCopyText.field(event.duration.map { String($0) }, into: &out)
                    out.append(0x0A)
                } else {
                    // count(_:inserted:) rejects every line that is not valid.
                    var codes = "malformed_json"
                    if case .rejected(let text) = outcome { codes = text }
                    PostgresCopyText.field(codes, into: &out)
                    out.append(contentsOf: "\t\\N\t\\N\t\\N\t\\N\t\\N\n".utf8)
                }
                if FaultInjection.armed { FaultInjection.reach(.eventRows) }
            }
        }
        return out
    }

    /// Reserves `count` consecutive bronze_id values: hosts load at once, and one nextval
    /// per row would interleave their files' ids. The session lock is held for two
    /// statements, never across a wait for anything else.
    private func reserveBronzeIds(_ count: Int64) throws -> Int64 {
        guard count > 0 else { return 0 }
        let lock = [String(PostgresLockKey.namespace), String(PostgresLockKey.bronzeIds)]
        try connection.query("SELECT pg_advisory_lock($1, $2)", lock)
        defer { _ = try? connection.query("SELECT pg_advisory_unlock($1, $2)", lock) }
        let last = try connection.query(
            """
            SELECT setval(pg_get_serial_sequence('bronze_event', 'bronze_id'),
                          nextval(pg_get_serial_sequence('bronze_event', 'bronze_id')) + $1::bigint - 1)
            """, [String(count)]
        ).scalar
        guard let last, let value = Int64(last) else {
            throw PostgresError.statement("no bronze_id range was reserved", sqlState: nil, sql: "setval")
        }
        return value - count + 1
    }
}

/// PostgreSQL's reference rows (``ReferenceRowWriter``): bronze and the valid rows buffered
/// as COPY text and COPYed a megabyte at a time, the valid rows into a temporary staging
/// table, upserted in one statement.
struct PostgresReferenceRows: ReferenceRowWriter {
    let kind: FileKind
    let fileId: Int64
    let connection: PostgresConnection
    private var bronzeText: [UInt8] = []
    private var stageText: [UInt8] = []
    static let flushBytes = 1 << 20

    init(kind: FileKind, fileId: Int64, connection: PostgresConnection) {
        self.kind = kind
        self.fileId = fileId
        self.connection = connection
    }

    private var stageTable: String {
        kind == .episodes ? "reference_stage_episode" : "reference_stage_user"
    }

    private var stageColumns: String {
        kind == .episodes
            ? "episode_id, podcast_id, title, release_date, duration_seconds, line_no"
            : "user_id, signup_date, country, line_no"
    }

    /// Creates (or empties) the staging table of the file's transaction.
    func prepare() throws {
        let columns =
            kind == .episodes
            ? """
            episode_id text COLLATE "C", podcast_id text COLLATE "C", title text COLLATE "C",
            release_date text COLLATE "C", duration_seconds bigint, line_no bigint
            """
            : """
            user_id text COLLATE "C", signup_date text COLLATE "C", country text COLLATE "C", line_no bigint
            """
        try connection.execute(
            "CREATE TEMP TABLE IF NOT EXISTS \(stageTable) (\(columns)) ON COMMIT DROP; TRUNCATE \(stageTable)"
        )
    }

    mutating func bronze(line: Int64, raw: String, fields: String?, codes: String?) throws {
        bronzeText.append(
            contentsOf: PostgresCopyText.line([
                String(fileId), String(line), kind.rawValue, raw, fields,
                codes == nil ? "silver" : "rejected", codes,
            ]))
        if bronzeText.count >= Self.flushBytes { try flush() }
    }

    mutating func stage(_ row: ReferenceRow, line: Int64) throws {
        switch row {
        case .episode(let e):
            stageText.append(
                contentsOf: PostgresCopyText.line([
                    e.episodeId, e.podcastId, e.title, e.releaseDate, String(e.durationSeconds), String(line),
                ]))
        case .user(let u):
            stageText.append(
                contentsOf: PostgresCopyText.line([u.userId, u.signupDate, u.country, String(line)]))
        }
        if stageText.count >= Self.flushBytes { try flush() }
    }

    private mutating func flush() throws {
        if !bronzeText.isEmpty {
            try copy(
                "COPY bronze_reference (file_id, line_no, kind, raw, fields, outcome, error_codes) FROM STDIN",
                bronzeText)
            bronzeText.removeAll(keepingCapacity: true)
        }
        if !stageText.isEmpty {
            try copy("COPY \(stageTable) (\(stageColumns)) FROM STDIN", stageText)
            stageText.removeAll(keepingCapacity: true)
        }
    }

    private func copy(_ sql: String, _ text: [UInt8]) throws {
        var sent = false
        try connection.copyIn(sql) {
            if sent { return nil }
            sent = true
            return text
        }
    }

    /// Of two staged rows of one id the later line wins (PostgreSQL's upsert may not touch a
    /// row twice in one statement, so the earlier ones are left out first).
    mutating func upsertStaged(at place: ReferencePlace) throws -> Int {
        try flush()
        let (id, columns) =
            kind == .episodes
            ? ("episode_id", "episode_id, podcast_id, title, release_date, duration_seconds")
            : ("user_id", "user_id, signup_date, country")
        let upsert = ReferenceFileLoader.upsertSQL(
            kind, into: kind == .episodes ? "silver_episode" : "silver_user",
            rows: """
                SELECT DISTINCT ON (\(id)) \(columns), $1::bigint, line_no, $2::bigint, $3::text
                FROM \(stageTable) ORDER BY \(id), line_no DESC
                """)
        let changed = try connection.query(
            "WITH changed AS (\(upsert) RETURNING 1) SELECT count(*) FROM changed",
            [String(fileId), String(place.mtimeNs), place.name])
        try connection.execute("TRUNCATE \(stageTable)")
        return Int(changed.scalar ?? "") ?? 0
    }

    mutating func bumpReferenceVersion() throws {
        try PostgresPipelineState.increment(.silverReferenceVersion, connection)
    }

    func forEachValidBronzeRow(_ body: (Int64, String?) throws -> Void) throws {
        let rows = try connection.query(
            "SELECT line_no, fields FROM bronze_reference WHERE file_id = $1 AND outcome = 'silver' ORDER BY line_no",
            [String(fileId)])
        for row in rows.rows {
            try body(row[0].flatMap { Int64($0) } ?? 0, row[1])
        }
    }
}
