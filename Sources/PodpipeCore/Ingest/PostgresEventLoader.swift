import Foundation
import PodpipeRules

/// Loads one NDJSON event file into bronze and silver on PostgreSQL, inside the caller's
/// transaction, with the rules and the per-line counting of ``EventFileLoader`` (the same
/// parser thread, ``FileLoadCounts/count(_:inserted:)``):
///
/// 1. the lines are COPYed (binary COPY, ``PostgresCopyBinary``) into a temporary staging
///    table (`ON COMMIT DROP`, not WAL-logged): the valid ones with their line number, their
///    place among the file's lines and the typed event. The parsed batches of the file's
///    first ``keptRawBytes`` bytes stay in memory (their rejected lines are not staged); past
///    that, every line is staged with its raw text and error codes, so memory stays bounded
///    whatever the file's size;
/// 2. silver: one `INSERT … SELECT DISTINCT ON (natural key) … ORDER BY natural key,
///    line_no … ON CONFLICT DO NOTHING RETURNING line_no` — within the file the first line of
///    a key wins, across files and hosts the first committed (a concurrent insert of the same
///    key waits for the other transaction, then does nothing); rows go in natural-key order,
///    so two hosts take the index's locks in the same order (no deadlock between them). The
///    same statement returns the valid lines that did not go in (the duplicates, few) and
///    keeps them in a second temporary table for step 4;
/// 3. bronze of the kept batches: COPYed straight from the client, every line in line order
///    with its outcome (`silver`, `duplicate` for the lines step 2 returned, `rejected` with
///    its codes), its bronze_id from a range reserved for the file (consecutive, as SQLite's,
///    for the ledger's bronze_first_id/bronze_last_id) under a short session-level advisory
///    lock;
/// 4. bronze of the staged lines (a file larger than ``keptRawBytes``): one `INSERT …
///    SELECT` from the staging table, the duplicates joined.
///
/// Why this shape (doc/performance.md, "PostgreSQL ingest"): COPY writes bronze in batches
/// where `INSERT … SELECT` writes it a row at a time, and the raw text is no longer copied
/// twice (into the staging table, then into bronze) nor sorted and joined there.
struct PostgresEventLoader {
    let validator: EventValidator
    let lineReader: LineReader
    let shouldStop: @Sendable () -> Bool
    let connection: PostgresConnection
    /// Bytes of a file's lines kept in memory for bronze's COPY (64 MiB: a file of about
    /// 500,000 generated lines); the lines past them are staged with their text.
    var keptRawBytes = 64 << 20

    /// The temporary tables `stageSQL` creates, dropped at the file's COMMIT (a caller that
    /// loads several files in one transaction, the dry run, drops them between files).
    static let temporaryTables = ["event_stage", "event_duplicate"]

    static let stageSQL = """
        CREATE TEMP TABLE event_stage (
            line_no bigint, ord bigint, raw text, error_codes text,
            ts bigint, user_id text COLLATE "C", episode_id text COLLATE "C", event_type text COLLATE "C",
            duration bigint
        ) ON COMMIT DROP;
        CREATE TEMP TABLE event_duplicate (line_no bigint) ON COMMIT DROP
        """

    static let stageCopySQL =
        "COPY event_stage (line_no, ord, raw, error_codes, ts, user_id, episode_id, event_type, duration) FROM STDIN (FORMAT binary)"

    static let silverSQL = """
        WITH inserted AS (
            INSERT INTO silver_event (ts, user_id, episode_id, event_type, duration, file_id, line_no)
            SELECT DISTINCT ON (ts, user_id, episode_id, event_type)
                ts, user_id, episode_id, event_type, duration, $1::bigint, line_no
            FROM event_stage WHERE error_codes IS NULL
            ORDER BY ts, user_id, episode_id, event_type, line_no
            ON CONFLICT (ts, user_id, episode_id, event_type) DO NOTHING
            RETURNING line_no
        ), duplicate AS (
            INSERT INTO event_duplicate
            SELECT s.line_no FROM event_stage AS s
            WHERE s.error_codes IS NULL AND NOT EXISTS (SELECT FROM inserted AS i WHERE i.line_no = s.line_no)
            RETURNING line_no
        )
        SELECT line_no FROM duplicate
        """

    static let bronzeCopySQL =
        "COPY bronze_event (bronze_id, file_id, line_no, raw, outcome, error_codes) FROM STDIN (FORMAT binary)"

    static let stagedBronzeSQL = """
        INSERT INTO bronze_event (bronze_id, file_id, line_no, raw, outcome, error_codes)
        SELECT $2::bigint + s.ord, $1::bigint, s.line_no, s.raw,
               CASE WHEN s.error_codes IS NOT NULL THEN 'rejected'
                    WHEN d.line_no IS NOT NULL THEN 'duplicate'
                    ELSE 'silver' END,
               s.error_codes
        FROM event_stage AS s LEFT JOIN event_duplicate AS d ON d.line_no = s.line_no
        WHERE s.raw IS NOT NULL
        """

    /// A parsed batch kept for bronze's COPY, with what each line became.
    struct KeptBatch {
        var batch: ParsedBatch
        var outcomes: [EventLineOutcome]
        /// The place of the batch's first line among the file's lines (from 0).
        var firstOrd: Int64
    }

    /// `started`: the file's parse if ``ParseAhead`` began it (none is begun for PostgreSQL
    /// today: its loader does not announce the end of a parse).
    func load(source: ChunkSource, fileId: Int64, started: EventParse? = nil) throws -> FileLoadCounts {
        // A deadline for the file's bulk statements that grows with it (at 1 MB/s, beyond the
        // connection's own): the deadline is for a server that stopped answering.
        let bulkTimeout = connection.timeout + Double(max(0, source.currentSize())) / 1_000_000
        try connection.execute(Self.stageSQL)
        var counts = FileLoadCounts()
        var kept: [KeptBatch] = []
        var keptBytes = 0
        var staged = false
        var failure: (any Error)?
        // No silver runs: the server de-duplicates the staged rows.
        _ = try EventFileLoader.withParser(
            source: source, validator: validator, lineReader: lineReader, runCapacity: nil, started: started
        ) { handOff in
            var started = false
            var ended = false
            try connection.copyIn(Self.stageCopySQL, timeout: bulkTimeout) {
                if ended { return nil }
                var out = started ? [] : PostgresCopyBinary.header
                started = true
                // Whatever stops the stream, the COPY ends cleanly (its trailer), so the
                // error thrown is the reason, not the server's complaint about a cut COPY.
                guard failure == nil, let message = handOff.take() else {
                    ended = true
                    return out + PostgresCopyBinary.trailer
                }
                switch message {
                case .end:
                    ended = true
                    return out + PostgresCopyBinary.trailer
                case .failed(let error):
                    failure = error
                    ended = true
                    return out + PostgresCopyBinary.trailer
                case .run:
                    // Not asked for (runCapacity nil): nothing to stage.
                    return out
                case .batch(let batch):
                    if shouldStop() {
                        failure = PipelineError.interrupted
                        ended = true
                        return out + PostgresCopyBinary.trailer
                    }
                    let keep = keptBytes < keptRawBytes
                    let firstOrd = counts.rowsRead
                    let outcomes = Self.stage(batch, keep: keep, counts: &counts, into: &out)
                    if keep {
                        kept.append(KeptBatch(batch: batch, outcomes: outcomes, firstOrd: firstOrd))
                        keptBytes += batch.bytes.count
                    } else {
                        staged = true
                    }
                    return out
                }
            }
        }
        if let failure { throw failure }
        try counts.finishEventFile()
        let duplicates = Set(
            try connection.query(Self.silverSQL, [String(fileId)], timeout: bulkTimeout).rows.compactMap {
                $0.first.flatMap { $0 }.flatMap { Int64($0) }
            })
        // The valid lines were counted as duplicates until now (count(_:inserted: nil)).
        counts.countValid(loaded: counts.rowsDuplicate - Int64(duplicates.count))
        let first = try reserveBronzeIds(counts.rowsRead)
        if !kept.isEmpty {
            try copyBronze(kept, duplicates: duplicates, fileId: fileId, firstId: first, timeout: bulkTimeout)
        }
        if staged {
            try connection.query(Self.stagedBronzeSQL, [String(fileId), String(first)], timeout: bulkTimeout)
        }
        if counts.rowsRead > 0 { counts.bronzeIds = first...(first &+ counts.rowsRead &- 1) }
        return counts
    }

    /// Counts each line of a batch and appends its staging row (binary COPY): a kept batch
    /// stages its valid lines without their text, a staged one every line with its text and
    /// error codes. Returns what each line became.
    static func stage(
        _ batch: ParsedBatch, keep: Bool, counts: inout FileLoadCounts, into out: inout [UInt8]
    ) -> [EventLineOutcome] {
        var outcomes: [EventLineOutcome] = []
        outcomes.reserveCapacity(batch.lines.count)
        out.reserveCapacity(
            out.count + batch.lines.count * (keep ? 96 : 96 + 128) + (keep ? 0 : batch.bytes.count))
        batch.bytes.withUnsafeBytes { bytes in
            for line in batch.lines {
                let ord = counts.rowsRead
                let outcome = counts.count(line, inserted: nil)
                outcomes.append(outcome)
                if FaultInjection.armed { FaultInjection.reach(.eventRows) }
                let event: CleanEvent?
                if case .valid(let valid) = line.outcome { event = valid } else { event = nil }
                if keep && event == nil { continue }
                PostgresCopyBinary.row(fields: 9, into: &out)
                PostgresCopyBinary.int8(line.lineNo, into: &out)
                PostgresCopyBinary.int8(ord, into: &out)
                if keep {
                    PostgresCopyBinary.null(into: &out)
                    PostgresCopyBinary.null(into: &out)
                } else {
                    PostgresCopyBinary.text(
                        raw: UnsafeRawBufferPointer(rebasing: bytes[line.start..<(line.start + line.length)]),
                        into: &out)
                    PostgresCopyBinary.text(Self.codes(of: outcome), into: &out)
                }
                if let event {
                    PostgresCopyBinary.int8(event.timestamp, into: &out)
                    PostgresCopyBinary.text(event.userId, into: &out)
                    PostgresCopyBinary.text(event.episodeId, into: &out)
                    PostgresCopyBinary.text(event.eventType.name, into: &out)
                    PostgresCopyBinary.int8(event.duration, into: &out)
                } else {
                    for _ in 0..<5 { PostgresCopyBinary.null(into: &out) }
                }
            }
        }
        return outcomes
    }

    /// The error codes bronze keeps for a line: nil for a valid one. count(_:inserted:)
    /// rejects every line that is not valid.
    static func codes(of outcome: EventLineOutcome) -> String? {
        switch outcome {
        case .rejected(let codes): codes
        case .silver, .duplicate, .valid: nil
        }
    }

    /// COPYs the kept batches' lines into bronze_event, in line order, a batch at a time.
    private func copyBronze(
        _ kept: [KeptBatch], duplicates: Set<Int64>, fileId: Int64, firstId: Int64, timeout: Double
    ) throws {
        var next = 0
        try connection.copyIn(Self.bronzeCopySQL, timeout: timeout) {
            guard next <= kept.count else { return nil }
            defer { next += 1 }
            var out = next == 0 ? PostgresCopyBinary.header : []
            guard next < kept.count else { return out + PostgresCopyBinary.trailer }
            Self.bronzeRows(kept[next], duplicates: duplicates, fileId: fileId, firstId: firstId, into: &out)
            return out
        }
    }

    /// A kept batch's bronze rows (binary COPY).
    static func bronzeRows(
        _ kept: KeptBatch, duplicates: Set<Int64>, fileId: Int64, firstId: Int64, into out: inout [UInt8]
    ) {
        out.reserveCapacity(out.count + kept.batch.bytes.count + kept.batch.lines.count * 80)
        kept.batch.bytes.withUnsafeBytes { bytes in
            for (index, line) in kept.batch.lines.enumerated() {
                let codes = Self.codes(of: kept.outcomes[index])
                let outcome =
                    codes != nil ? "rejected" : duplicates.contains(line.lineNo) ? "duplicate" : "silver"
                PostgresCopyBinary.row(fields: 6, into: &out)
                PostgresCopyBinary.int8(firstId &+ kept.firstOrd &+ Int64(index), into: &out)
                PostgresCopyBinary.int8(fileId, into: &out)
                PostgresCopyBinary.int8(line.lineNo, into: &out)
                PostgresCopyBinary.text(
                    raw: UnsafeRawBufferPointer(rebasing: bytes[line.start..<(line.start + line.length)]),
                    into: &out)
                PostgresCopyBinary.text(outcome, into: &out)
                PostgresCopyBinary.text(codes, into: &out)
            }
        }
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
