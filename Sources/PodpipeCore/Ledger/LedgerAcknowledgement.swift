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
        let acknowledged = try hasAcknowledgements(db) ? acknowledgedCondition : "0"
        var sql = """
            SELECT f.file_id, f.name, f.state, f.finished_at, \(acknowledged) AS acknowledged
            FROM ingest_file AS f
            WHERE f.state IN ('rejected', 'failed')
            """
        var arguments: StatementArguments = []
        if let names {
            guard !names.isEmpty else { return [] }
            sql += " AND f.name IN (\(names.map { _ in "?" }.joined(separator: ", ")))"
            arguments = StatementArguments(names)
        }
        sql += " ORDER BY f.file_id DESC"
        return try Row.fetchAll(db, sql: sql, arguments: arguments).compactMap { row in
            guard let state = LedgerState.fromDatabaseValue(row["state"]) else { return nil }
            return LedgerProblem(
                fileId: row["file_id"], name: row["name"], state: state, finishedAt: row["finished_at"],
                acknowledged: row["acknowledged"])
        }
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
        let now = ISOTime.format(date)
        var count = 0
        for fileId in fileIds {
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO ingest_ack
                      (file_id, name, state, size_bytes, mtime_ns, started_at, acknowledged_at)
                    SELECT file_id, name, state, size_bytes, mtime_ns, started_at, ?
                    FROM ingest_file WHERE file_id = ? AND state IN ('rejected', 'failed')
                    """, arguments: [now, fileId])
            count += db.changesCount
        }
        return count
    }
}
