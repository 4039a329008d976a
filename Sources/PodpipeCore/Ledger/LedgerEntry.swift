import GRDB

/// A ledger state (SPEC §3).
public enum LedgerState: String, Sendable, Codable, CaseIterable {
    case loaded
    case rejected
    case duplicate
    case failed
}

/// One row of `ingest_file`, the processed-file ledger.
public struct LedgerEntry: Sendable, Codable, FetchableRecord, MutablePersistableRecord, Equatable {
    public static let databaseTableName = "ingest_file"

    public var fileId: Int64?
    public var name: String
    public var kind: FileKind
    public var sha256: String
    public var sizeBytes: Int64
    public var mtime: String
    public var mtimeNs: Int64
    public var state: LedgerState
    public var duplicateOf: Int64?
    public var previousVersion: Int64?
    public var rowsRead: Int64 = 0
    public var rowsLoaded: Int64 = 0
    public var rowsRejected: Int64 = 0
    public var rowsDuplicate: Int64 = 0
    public var firstError: String?
    public var firstErrorLine: Int64?
    public var message: String?
    public var attempts: Int64 = 1
    public var nextAttemptAt: String?
    public var startedAt: String
    public var finishedAt: String
    public var durationMs: Int64 = 0
    /// The file's bronze_event rows: bronze_id from first to last (migration 0004); nil when
    /// it has none.
    public var bronzeFirstId: Int64?
    public var bronzeLastId: Int64?

    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy
        .convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy
        .convertToSnakeCase

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        fileId = inserted.rowID
    }
}

/// What a pass and `status` need of a file's newest ledger row to tell whether the file in
/// the folder is settled (``Ledger/latestByName(_:)``).
public struct LedgerSettlement: Sendable, Equatable {
    public var state: LedgerState
    public var sizeBytes: Int64
    public var mtimeNs: Int64
    public var nextAttemptAt: String?
}

extension FileKind: DatabaseValueConvertible {}
extension LedgerState: DatabaseValueConvertible {}

/// Ledger queries.
public enum Ledger {
    /// The newest ledger row for each name, keyed by the name's bytes (``nameKey(_:)``).
    ///
    /// Only the columns that tell whether a file in the folder is settled, read by position:
    /// decoding whole ``LedgerEntry`` records (Codable, snake-case keys converted per column)
    /// took `podpipectl status` 0.20 s of CPU with 2,000 files in the ledger, and every pass
    /// of the daemon as much.
    public static func latestByName(_ db: Database) throws -> [[UInt8]: LedgerSettlement] {
        let rows = try Row.fetchCursor(
            db,
            sql: "SELECT name, state, size_bytes, mtime_ns, next_attempt_at FROM ingest_file ORDER BY file_id"
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
                state: state, sizeBytes: row[2], mtimeNs: row[3], nextAttemptAt: row[4])
        }
        return result
    }

    /// A file name as the ledger tells names apart: by bytes, as SQLite compares them.
    /// (`String ==` is Unicode canonical equivalence: "café" spelled with a precomposed "é"
    /// and with "e" + a combining accent are equal Strings but two files on Linux.)
    public static func nameKey(_ name: String) -> [UInt8] {
        Array(name.utf8)
    }

    /// The loaded or rejected entry whose bytes have this SHA-256, if any.
    public static func original(withSHA256 sha: String, _ db: Database) throws -> LedgerEntry? {
        try LedgerEntry.fetchOne(
            db,
            sql: """
                SELECT * FROM ingest_file
                WHERE sha256 = ? AND state IN ('loaded', 'rejected')
                ORDER BY file_id LIMIT 1
                """, arguments: [sha])
    }

    /// Whether a loaded or rejected entry other than `fileId` has exactly this many bytes
    /// (cheap test before hashing a file whose bytes may already be known). `fileId` is the
    /// entry being loaded: the ledger row it inserted first has the same size, and counting
    /// it made every file be read and hashed once more before its load (1 s on a 1 GB file).
    public static func hasFile(ofSize size: Int64, other fileId: Int64, _ db: Database) throws -> Bool {
        try Bool.fetchOne(
            db,
            sql: """
                SELECT EXISTS (SELECT 1 FROM ingest_file
                               WHERE size_bytes = ? AND state IN ('loaded', 'rejected')
                                 AND file_id <> ?)
                """, arguments: [size, fileId]) ?? false
    }

    /// The earliest `next_attempt_at` of the files recorded `failed` (nil: none).
    public static func nextRetryAt(_ db: Database) throws -> String? {
        try String.fetchOne(
            db, sql: "SELECT min(next_attempt_at) FROM ingest_file WHERE state = 'failed'")
    }

    public static func counts(_ db: Database) throws -> [LedgerState: Int] {
        var result: [LedgerState: Int] = [:]
        for state in LedgerState.allCases { result[state] = 0 }
        let rows = try Row.fetchAll(
            db, sql: "SELECT state, count(*) AS n FROM ingest_file GROUP BY state")
        for row in rows {
            if let state = LedgerState(rawValue: row["state"]) { result[state] = row["n"] }
        }
        return result
    }
}
