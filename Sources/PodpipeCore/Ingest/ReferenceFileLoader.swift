import Foundation
import GRDB
import PodpipeRules

/// A valid reference row, as staged for the upsert into silver.
enum ReferenceRow {
    case episode(CleanEpisode)
    case user(CleanUser)
}

/// Where a reference file's rows go, per engine: bronze_reference, the staging of the valid
/// rows, their upsert into silver at the file's place, and the file's stored fields for a
/// re-delivery. SQLite's is ``SQLiteReferenceRows``; PostgreSQL's ``PostgresReferenceRows``.
/// The reading, the rules and the counting are ``ReferenceFileLoader``'s, written once.
protocol ReferenceRowWriter {
    /// One record of the file into bronze_reference (`codes` nil: it went to silver).
    mutating func bronze(line: Int64, raw: String, fields: String?, codes: String?) throws
    /// One valid row into the staging table.
    mutating func stage(_ row: ReferenceRow, line: Int64) throws
    /// Upserts the staged rows at `place` (``ReferenceOrder``: a row takes the id when its
    /// place is not before the stored row's; of two staged rows of one id the later line
    /// wins) and empties the staging; returns the silver rows inserted or updated.
    mutating func upsertStaged(at place: ReferencePlace) throws -> Int
    /// Bumps `silver.reference_version` (gold reconciles what depends on reference rows).
    mutating func bumpReferenceVersion() throws
    /// Calls `body` with the line number and stored fields of each of the file's bronze
    /// rows that went to silver, in line order.
    func forEachValidBronzeRow(_ body: (Int64, String?) throws -> Void) throws
}

/// Loads one reference CSV (episodes or users) into bronze and silver inside the caller's
/// transaction. Each record is kept in bronze (its text as received, and its fields as a
/// JSON object of its columns); valid records are upserted into silver by id, where the row
/// with the latest place in the file order wins (``ReferenceOrder``; SPEC §2.2). The file is
/// read as a stream (``CSVRecordReader``): a record longer than `maxRecordBytes` is a
/// rejected row, never a buffer that grows. The rows are written through a
/// ``ReferenceRowWriter`` (the engine's SQL).
struct ReferenceFileLoader {
    /// The upsert of reference rows of `kind` into `table` (silver_episode / silver_user, or
    /// the replay's shadow copies of them): a row takes the id when its place is not before
    /// the stored row's (``ReferenceOrder/wins(_:over:)``), every column replaced.
    /// `rows`: where the rows come from, in the table's column order (episode_id, podcast_id,
    /// title, release_date, duration_seconds, file_id, line_no, order_mtime_ns, order_name /
    /// user_id, signup_date, country, file_id, line_no, order_mtime_ns, order_name); by
    /// default one row of parameters. A SELECT with a FROM needs a WHERE clause (`WHERE true`)
    /// before the ON CONFLICT clause.
    static func upsertSQL(_ kind: FileKind, into table: String, rows: String? = nil) -> String {
        // The target as the DO UPDATE clause names it: without its schema.
        let target = table.split(separator: ".").last.map(String.init) ?? table
        return kind == .episodes
            ? """
            INSERT INTO \(table)
                (episode_id, podcast_id, title, release_date, duration_seconds, file_id, line_no,
                 order_mtime_ns, order_name)
            \(rows ?? "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
            ON CONFLICT (episode_id) DO UPDATE SET
                podcast_id = excluded.podcast_id, title = excluded.title,
                release_date = excluded.release_date,
                duration_seconds = excluded.duration_seconds,
                file_id = excluded.file_id, line_no = excluded.line_no,
                order_mtime_ns = excluded.order_mtime_ns, order_name = excluded.order_name
            WHERE \(ReferenceOrder.wins("excluded", over: target))
            """
            : """
            INSERT INTO \(table)
                (user_id, signup_date, country, file_id, line_no, order_mtime_ns, order_name)
            \(rows ?? "VALUES (?, ?, ?, ?, ?, ?, ?)")
            ON CONFLICT (user_id) DO UPDATE SET
                signup_date = excluded.signup_date, country = excluded.country,
                file_id = excluded.file_id, line_no = excluded.line_no,
                order_mtime_ns = excluded.order_mtime_ns, order_name = excluded.order_name
            WHERE \(ReferenceOrder.wins("excluded", over: target))
            """
    }

    /// Validates one record's fields (the required columns, in ``episodeColumns`` /
    /// ``userColumns`` order): the row, or the error codes. The loader and the re-placement
    /// of a re-delivered file share it.
    static func validate(_ kind: FileKind, _ f: [String]) -> Result<ReferenceRow, ReferenceErrors>? {
        switch kind {
        case .episodes:
            return ReferenceRules.validateEpisode(
                episodeId: f[0], podcastId: f[1], title: f[2], releaseDate: f[3], durationSeconds: f[4]
            ).map(ReferenceRow.episode)
        case .users:
            return ReferenceRules.validateUser(userId: f[0], signupDate: f[1], country: f[2])
                .map(ReferenceRow.user)
        case .events:
            return nil
        }
    }

    /// Stages the record when valid; returns its error codes otherwise.
    private static func stageIfValid<Writer: ReferenceRowWriter>(
        _ kind: FileKind, _ fields: [String], line: Int64, into writer: inout Writer
    ) throws -> String? {
        switch validate(kind, fields) {
        case .success(let row):
            try writer.stage(row, line: line)
            return nil
        case .failure(let errors): return errors.text
        case nil: return nil
        }
    }

    /// A re-delivery: the rows of the loaded reference file move to `place` (the newest
    /// delivery of its bytes, later than where they were) and win where they are now the
    /// latest (``ReferenceOrder``). Its valid bronze rows are validated again from their
    /// stored fields (the bytes are not loaded twice) and upserted (a row the current rules
    /// reject is left out: `revalidate` re-codes bronze); bumps `silver.reference_version`
    /// when silver changed (a row's place alone counts), so that gold reconciles. Costs
    /// about one load of the file's valid rows.
    static func place<Writer: ReferenceRowWriter>(
        _ kind: FileKind, at place: ReferencePlace, from writer: inout Writer
    ) throws {
        let required = kind == .episodes ? episodeColumns : userColumns
        var staged: [(Int64, [String])] = []
        try writer.forEachValidBronzeRow { line, fields in
            guard let values = ReferenceReplay.columns(fields ?? "", required) else { return }
            staged.append((line, values))
        }
        for (line, values) in staged { _ = try stageIfValid(kind, values, line: line, into: &writer) }
        if try writer.upsertStaged(at: place) > 0 {
            try writer.bumpReferenceVersion()
        }
    }

    /// SQLite's re-placement (``place(_:at:from:)``) in the writer's transaction.
    static func place(_ kind: FileKind, fileId: Int64, at place: ReferencePlace, _ db: Database) throws {
        var writer = try SQLiteReferenceRows(kind: kind, fileId: fileId, db: db)
        try Self.place(kind, at: place, from: &writer)
    }

    static let episodeColumns = [
        "episode_id", "podcast_id", "title", "release_date", "duration_seconds",
    ]
    static let userColumns = ["user_id", "signup_date", "country"]

    /// Records between two calls of `shouldStop` (as the event loader's batches).
    static let stopCheckRecords = 4096

    let kind: FileKind
    /// The bound of one record: `ingest.max_line_bytes`, as for an event line.
    var maxRecordBytes: Int = 32 << 20
    /// Asked every chunk read and every ``stopCheckRecords`` records: true stops the load
    /// with `PipelineError.interrupted` (the caller's transaction rolls back and the file is
    /// read again by the next pass). The daemon's also pings the systemd watchdog.
    var shouldStop: @Sendable () -> Bool = { false }

    /// SQLite's load (``load(source:place:into:)``) in the writer's transaction.
    func load(source: ChunkSource, fileId: Int64, place: ReferencePlace, db: Database) throws
        -> FileLoadCounts
    {
        var writer = try SQLiteReferenceRows(kind: kind, fileId: fileId, db: db)
        return try load(source: source, place: place, into: &writer)
    }

    /// Loads the file's rows; `place`: the file's place in the file order (its modification
    /// time and name), which its valid rows carry into silver.
    func load<Writer: ReferenceRowWriter>(
        source: ChunkSource, place: ReferencePlace, into writer: inout Writer
    )
        throws -> FileLoadCounts
    {
        var reader = try CSVRecordReader(
            maxRecordBytes: maxRecordBytes, read: Self.chunks(source, shouldStop: shouldStop))
        let required = kind == .episodes ? Self.episodeColumns : Self.userColumns
        let indexes: [Int]
        switch reader.columnIndexes(required: required) {
        case .success(let found): indexes = found
        case .failure(let rejection): throw rejection
        }
        // Bronze row by row; silver's valid rows first into a staging table, then upserted in
        // one statement (below): row by row, the upsert (and the trigger that logs reference
        // changes for gold) journals the pages it touches once per statement.
        let keys = reader.header.map(JSONText.string)
        var counts = FileLoadCounts()
        while let item = try reader.next() {
            if counts.rowsRead % Int64(Self.stopCheckRecords) == 0, shouldStop() {
                throw PipelineError.interrupted
            }
            counts.rowsRead += 1
            let record: CSVRecordReader.Record
            switch item {
            case .record(let read): record = read
            case .rejected(let line, let raw, let code):
                counts.rowsRejected += 1
                counts.noteError(code.rawValue, line: Int64(line))
                try writer.bronze(line: Int64(line), raw: raw, fields: nil, codes: code.rawValue)
                continue
            }
            let fields = Self.jsonObject(keys: keys, fields: record.fields)
            let line = Int64(record.line)
            var codes: String?
            if record.fields.count != reader.header.count {
                codes = ReferenceErrorCode.wrongFieldCount.rawValue
            } else {
                codes = try Self.stageIfValid(
                    kind, indexes.map { record.fields[$0] }, line: line, into: &writer)
            }
            if let codes {
                counts.rowsRejected += 1
                counts.noteError(codes, line: line)
            } else {
                counts.rowsLoaded += 1
                FaultInjection.reach(.referenceUpsert)
            }
            try writer.bronze(line: line, raw: record.raw, fields: fields, codes: codes)
        }
        _ = try writer.upsertStaged(at: place)
        if counts.rowsRead == 0 {
            counts.rejection = .unreadable("the CSV file has a header but no records")
        }
        if counts.rowsLoaded > 0 {
            try writer.bumpReferenceVersion()
        }
        return counts
    }

    /// The file's chunks, one per call (empty at the end); `shouldStop` is asked before each.
    static func chunks(_ source: ChunkSource, shouldStop: @escaping @Sendable () -> Bool)
        -> () throws -> [UInt8]
    {
        var chunk = [UInt8](repeating: 0, count: source.chunkSize)
        return {
            if shouldStop() { throw PipelineError.interrupted }
            let n = try chunk.withUnsafeMutableBytes { try source.next(into: $0) }
            return Array(chunk[0..<n])
        }
    }

    /// `{"column": "value", …}` in header order: the record's fields, for bronze's `fields`.
    static func jsonObject(header: [String], fields: [String]) -> String {
        jsonObject(keys: header.map(JSONText.string), fields: fields)
    }

    /// The same with the header's names already as JSON strings (once per file).
    static func jsonObject(keys: [String], fields: [String]) -> String {
        var out = "{"
        for (index, value) in fields.enumerated() {
            if index > 0 { out += ", " }
            out += index < keys.count ? keys[index] : JSONText.string("_extra_\(index + 1)")
            out += ": " + JSONText.string(value)
        }
        return out + "}"
    }
}

/// SQLite's reference rows: bronze row by row, the valid rows staged in a TEMP table and
/// upserted in one statement.
struct SQLiteReferenceRows: ReferenceRowWriter {
    let kind: FileKind
    let fileId: Int64
    let db: Database
    private let bronzeStatement: BulkStatement
    private let stageStatement: BulkStatement

    init(kind: FileKind, fileId: Int64, db: Database) throws {
        self.kind = kind
        self.fileId = fileId
        self.db = db
        bronzeStatement = try BulkStatement(
            db,
            sql: """
                INSERT INTO bronze_reference (file_id, line_no, kind, raw, fields, outcome, error_codes)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
        stageStatement = try Self.stage(kind, db)
    }

    /// The staging table of one file's valid rows (emptied), and the statement filling it.
    private static func stage(_ kind: FileKind, _ db: Database) throws -> BulkStatement {
        if kind == .episodes {
            try db.execute(
                sql: """
                    CREATE TEMP TABLE IF NOT EXISTS reference_stage_episode (
                        episode_id TEXT, podcast_id TEXT, title TEXT, release_date TEXT,
                        duration_seconds INTEGER, line_no INTEGER);
                    DELETE FROM temp.reference_stage_episode;
                    """)
            return try BulkStatement(
                db,
                sql: """
                    INSERT INTO temp.reference_stage_episode
                        (episode_id, podcast_id, title, release_date, duration_seconds, line_no)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """)
        }
        try db.execute(
            sql: """
                CREATE TEMP TABLE IF NOT EXISTS reference_stage_user (
                    user_id TEXT, signup_date TEXT, country TEXT, line_no INTEGER);
                DELETE FROM temp.reference_stage_user;
                """)
        return try BulkStatement(
            db,
            sql:
                "INSERT INTO temp.reference_stage_user (user_id, signup_date, country, line_no) VALUES (?, ?, ?, ?)"
        )
    }

    mutating func bronze(line: Int64, raw: String, fields: String?, codes: String?) throws {
        let bronze = bronzeStatement
        bronze.bind(1, fileId)
        bronze.bind(2, line)
        bronze.bindText(3, kind.rawValue)
        bronze.bindText(4, raw)
        if let fields { bronze.bindText(5, fields) } else { bronze.bindNull(5) }
        if let codes {
            bronze.bindStatic(6, "rejected")
            bronze.bindText(7, codes)
        } else {
            bronze.bindStatic(6, "silver")
            bronze.bindNull(7)
        }
        _ = try bronze.run()
    }

    mutating func stage(_ row: ReferenceRow, line: Int64) throws {
        let stage = stageStatement
        switch row {
        case .episode(let e):
            stage.bindText(1, e.episodeId)
            stage.bindText(2, e.podcastId)
            stage.bindText(3, e.title)
            stage.bindText(4, e.releaseDate)
            stage.bind(5, e.durationSeconds)
            stage.bind(6, line)
        case .user(let u):
            stage.bindText(1, u.userId)
            stage.bindText(2, u.signupDate)
            stage.bindText(3, u.country)
            stage.bind(4, line)
        }
        _ = try stage.run()
    }

    /// Upserts the staged rows in line order (a later record of the same id wins, as one
    /// upsert per record would), in one statement, and empties the staging table.
    mutating func upsertStaged(at place: ReferencePlace) throws -> Int {
        let (stage, columns) =
            kind == .episodes
            ? ("reference_stage_episode", "episode_id, podcast_id, title, release_date, duration_seconds")
            : ("reference_stage_user", "user_id, signup_date, country")
        let upsert = ReferenceFileLoader.upsertSQL(
            kind, into: kind == .episodes ? "silver_episode" : "silver_user",
            rows: "SELECT \(columns), ?, line_no, ?, ? FROM temp.\(stage) WHERE true ORDER BY line_no")
        try db.execute(sql: upsert, arguments: [fileId, place.mtimeNs, place.name])
        let changed = db.changesCount
        try db.execute(sql: "DELETE FROM temp.\(stage)")
        return changed
    }

    mutating func bumpReferenceVersion() throws {
        try PipelineState.increment(.silverReferenceVersion, db)
    }

    func forEachValidBronzeRow(_ body: (Int64, String?) throws -> Void) throws {
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT line_no, fields FROM bronze_reference
                WHERE file_id = ? AND outcome = 'silver' ORDER BY line_no
                """, arguments: [fileId])
        while let row = try rows.next() {
            try body(row[0] ?? 0, row[1])
        }
    }
}
