import Foundation
import GRDB

/// A `rejected` or `failed` ledger row and whether an operator acknowledged it
/// (`podpipectl ack`, migration 0009).
struct LedgerProblem: Sendable, Equatable, Codable {
    var fileId: Int64
    var name: String
    var state: LedgerState
    var finishedAt: String
    var acknowledged: Bool

    enum CodingKeys: String, CodingKey {
        case name, state, acknowledged
        case fileId = "file_id"
        case finishedAt = "finished_at"
    }
}

/// The SQL of acknowledgements: which `rejected` and `failed` rows an operator has dealt
/// with. Kept beside the ledger (the rows they name are its own); the ingest never reads
/// or writes `ingest_ack`.
extension Ledger {
    /// The condition "row `f` of ingest_file has a matching acknowledgement": same row,
    /// state, size, modification time and start (see migration 0009 for why each).
    static let acknowledgedCondition = """
        EXISTS (SELECT 1 FROM ingest_ack AS a
                WHERE a.file_id = f.file_id AND a.state = f.state AND a.size_bytes = f.size_bytes
                  AND a.mtime_ns = f.mtime_ns AND a.started_at = f.started_at)
        """

    /// Whether the database has the acknowledgements table (a database last written by a
    /// podpipe before migration 0009 has none: nothing is acknowledged there).
    static func hasAcknowledgements(_ db: Database) throws -> Bool {
        try db.tableExists("ingest_ack")
    }

    /// Every `rejected` and `failed` row, newest first, with whether it is acknowledged;
    /// only those of `names` when given.
    static func problems(names: [String]? = nil, _ db: Database) throws -> [LedgerProblem] {
        try problems(names: names, SQLiteQueries(db: db))
    }

    /// ``problems(names:_:)-(_,Database)`` through the read seam (any engine; on
    /// PostgreSQL a name is every host's and folder's rows of that name).
    static func problems(names: [String]? = nil, _ store: some QueryRunner) throws -> [LedgerProblem] {
        let acknowledged = try store.relationExists("ingest_ack") ? acknowledgedCondition : "(1 = 0)"
        var sql = """
            SELECT f.file_id, f.name, f.state, f.finished_at, \(acknowledged) AS acknowledged
            FROM ingest_file AS f
            WHERE f.state IN ('rejected', 'failed')
            """
        if let names {
            guard !names.isEmpty else { return [] }
            sql += " AND f.name IN (\(names.indices.map { "$\($0 + 1)" }.joined(separator: ", ")))"
        }
        sql += " ORDER BY f.file_id DESC"
        return try store.table(sql, (names ?? []).map { .text($0) }).rows.compactMap { row in
            guard row.count == 5, let fileId = row[0].int64Value,
                let state = row[2].stringValue.flatMap(LedgerState.init(rawValue:))
            else { return nil }
            return LedgerProblem(
                fileId: fileId, name: row[1].stringValue ?? "", state: state,
                finishedAt: row[3].stringValue ?? "", acknowledged: row[4].int64Value == 1)
        }
    }

    /// Whether the ledger has a row named `name` (any state; on PostgreSQL, any host's).
    static func hasRow(named name: String, _ store: some QueryRunner) throws -> Bool {
        try store.scalar(
            "SELECT EXISTS (SELECT 1 FROM ingest_file WHERE name = $1)", [.text(name)]
        )?.int64Value == 1
    }

    /// How many `rejected` and `failed` rows are not acknowledged: what makes `status`
    /// unhealthy.
    static func unacknowledgedCounts(_ db: Database) throws -> (rejected: Int, failed: Int) {
        try unacknowledgedCounts(SQLiteQueries(db: db))
    }

    /// ``unacknowledgedCounts(_:)-(Database)`` through the read seam (any engine).
    static func unacknowledgedCounts(_ store: some QueryRunner) throws -> (rejected: Int, failed: Int) {
        let acknowledged = try store.relationExists("ingest_ack") ? acknowledgedCondition : "(1 = 0)"
        let table = try store.table(
            """
            SELECT f.state, count(*) AS n FROM ingest_file AS f
            WHERE f.state IN ('rejected', 'failed') AND NOT \(acknowledged)
            GROUP BY f.state
            """, [])
        var counts = (rejected: 0, failed: 0)
        for row in table.rows where row.count == 2 {
            let n = Int(clamping: row[1].int64Value ?? 0)
            switch row[0].stringValue.flatMap(LedgerState.init(rawValue:)) {
            case .rejected: counts.rejected = n
            case .failed: counts.failed = n
            default: break
            }
        }
        return counts
    }

    /// Acknowledges the rows `fileIds` as they are now (their state, size, modification
    /// time and start), in the caller's transaction. A row that is no longer `rejected` or
    /// `failed` is left alone. Returns the rows acknowledged.
    static func acknowledge(fileIds: [Int64], at date: Date, _ db: Database) throws -> Int {
        try acknowledge(fileIds: fileIds, at: date, SQLiteQueries(db: db))
    }

    /// ``acknowledge(fileIds:at:_:)-(_,_,Database)`` on any engine: one statement per row,
    /// in the SQL both engines share (an upsert that returns the row it wrote), run through
    /// the seam inside the caller's write transaction.
    static func acknowledge(fileIds: [Int64], at date: Date, _ store: some QueryRunner) throws -> Int {
        let now = ISOTime.format(date)
        var count = 0
        for fileId in fileIds {
            count += try store.table(
                """
                INSERT INTO ingest_ack
                  (file_id, name, state, size_bytes, mtime_ns, started_at, acknowledged_at)
                SELECT file_id, name, state, size_bytes, mtime_ns, started_at, CAST($1 AS text)
                FROM ingest_file WHERE file_id = $2 AND state IN ('rejected', 'failed')
                ON CONFLICT (file_id) DO UPDATE SET
                  name = excluded.name, state = excluded.state, size_bytes = excluded.size_bytes,
                  mtime_ns = excluded.mtime_ns, started_at = excluded.started_at,
                  acknowledged_at = excluded.acknowledged_at
                RETURNING file_id
                """, [.text(now), .integer(fileId)]
            ).rows.count
        }
        return count
    }
}
