import Foundation
import GRDB
import PodpipeRules

/// Loads one reference CSV (episodes or users) into bronze and silver inside the caller's
/// transaction. Each record is kept in bronze (its text as received, and its fields as a
/// JSON object of its columns); valid records are upserted into silver by id, so the file
/// processed last wins (SPEC §2.2). The file is read as a stream (``CSVRecordReader``): a
/// record longer than `maxRecordBytes` is a rejected row, never a buffer that grows.
struct ReferenceFileLoader {
    /// The upsert of reference rows of `kind` into `table` (silver_episode / silver_user, or
    /// the replay's shadow copies of them): the latest row wins, every column replaced.
    /// `rows`: where the rows come from, in the table's column order (episode_id, podcast_id,
    /// title, release_date, duration_seconds, file_id, line_no / user_id, signup_date,
    /// country, file_id, line_no); by default one row of parameters. A SELECT with a FROM
    /// needs a WHERE clause (`WHERE true`) before the ON CONFLICT clause.
    static func upsertSQL(_ kind: FileKind, into table: String, rows: String? = nil) -> String {
        kind == .episodes
            ? """
            INSERT INTO \(table)
                (episode_id, podcast_id, title, release_date, duration_seconds, file_id, line_no)
            \(rows ?? "VALUES (?, ?, ?, ?, ?, ?, ?)")
            ON CONFLICT (episode_id) DO UPDATE SET
                podcast_id = excluded.podcast_id, title = excluded.title,
                release_date = excluded.release_date,
                duration_seconds = excluded.duration_seconds,
                file_id = excluded.file_id, line_no = excluded.line_no
            """
            : """
            INSERT INTO \(table) (user_id, signup_date, country, file_id, line_no)
            \(rows ?? "VALUES (?, ?, ?, ?, ?)")
            ON CONFLICT (user_id) DO UPDATE SET
                signup_date = excluded.signup_date, country = excluded.country,
                file_id = excluded.file_id, line_no = excluded.line_no
            """
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

    /// Upserts the staged rows in line order (a later record of the same id wins, as one
    /// upsert per record would), in one statement, and empties the staging table.
    private static func upsertStaged(_ kind: FileKind, fileId: Int64, _ db: Database) throws {
        let (stage, columns) =
            kind == .episodes
            ? ("reference_stage_episode", "episode_id, podcast_id, title, release_date, duration_seconds")
            : ("reference_stage_user", "user_id, signup_date, country")
        let upsert = upsertSQL(
            kind, into: kind == .episodes ? "silver_episode" : "silver_user",
            rows: "SELECT \(columns), ?, line_no FROM temp.\(stage) WHERE true ORDER BY line_no")
        try db.execute(sql: upsert, arguments: [fileId])
        try db.execute(sql: "DELETE FROM temp.\(stage)")
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

    func load(source: ChunkSource, fileId: Int64, db: Database) throws -> FileLoadCounts {
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
        let bronze = try BulkStatement(
            db,
            sql: """
                INSERT INTO bronze_reference (file_id, line_no, kind, raw, fields, outcome, error_codes)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
        let stage = try Self.stage(kind, db)
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
                bronze.bind(1, fileId)
                bronze.bind(2, Int64(line))
                bronze.bindText(3, kind.rawValue)
                bronze.bindText(4, raw)
                bronze.bindNull(5)
                bronze.bindStatic(6, "rejected")
                bronze.bindText(7, code.rawValue)
                _ = try bronze.run()
                continue
            }
            let fields = Self.jsonObject(keys: keys, fields: record.fields)
            let line = Int64(record.line)
            var codes: String?
            if record.fields.count != reader.header.count {
                codes = ReferenceErrorCode.wrongFieldCount.rawValue
            } else {
                let f = indexes.map { record.fields[$0] }
                switch kind {
                case .episodes:
                    switch ReferenceRules.validateEpisode(
                        episodeId: f[0], podcastId: f[1], title: f[2], releaseDate: f[3],
                        durationSeconds: f[4])
                    {
                    case .success(let e):
                        stage.bindText(1, e.episodeId)
                        stage.bindText(2, e.podcastId)
                        stage.bindText(3, e.title)
                        stage.bindText(4, e.releaseDate)
                        stage.bind(5, e.durationSeconds)
                        stage.bind(6, line)
                        _ = try stage.run()
                    case .failure(let errors): codes = errors.text
                    }
                case .users:
                    switch ReferenceRules.validateUser(
                        userId: f[0], signupDate: f[1], country: f[2])
                    {
                    case .success(let u):
                        stage.bindText(1, u.userId)
                        stage.bindText(2, u.signupDate)
                        stage.bindText(3, u.country)
                        stage.bind(4, line)
                        _ = try stage.run()
                    case .failure(let errors): codes = errors.text
                    }
                case .events:
                    break
                }
            }
            if let codes {
                counts.rowsRejected += 1
                counts.noteError(codes, line: line)
            } else {
                counts.rowsLoaded += 1
                FaultInjection.reach(.referenceUpsert)
            }
            bronze.bind(1, fileId)
            bronze.bind(2, line)
            bronze.bindText(3, kind.rawValue)
            bronze.bindText(4, record.raw)
            bronze.bindText(5, fields)
            if let codes {
                bronze.bindStatic(6, "rejected")
                bronze.bindText(7, codes)
            } else {
                bronze.bindStatic(6, "silver")
                bronze.bindNull(7)
            }
            _ = try bronze.run()
        }
        try Self.upsertStaged(kind, fileId: fileId, db)
        if counts.rowsRead == 0 {
            counts.rejection = .unreadable("the CSV file has a header but no records")
        }
        if counts.rowsLoaded > 0 {
            try PipelineState.increment(.silverReferenceVersion, db)
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
