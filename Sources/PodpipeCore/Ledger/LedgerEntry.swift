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
    /// The file's status-change time (ns) and inode when it was read (migration 0007); nil
    /// on rows written before it.
    public var changeNs: Int64?
    public var inode: Int64?
    /// Where the file went after its commit, the path it was moved to, and when (migration
    /// 0010, `ingest.after`); nil while it is in the drop folder.
    public var disposal: AfterCommitDestination?
    public var disposedTo: String?
    public var disposedAt: String?

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
    public var changeNs: Int64? = nil
    public var inode: Int64? = nil
    /// The entry's row (nil in tests that build one by hand).
    public var fileId: Int64? = nil

    /// Whether `candidate` is the file this entry settled: the same size and modification
    /// time, and the same status-change time and inode where they were recorded (a file
    /// rewritten with its old modification time kept has a new ctime).
    func settles(_ candidate: Candidate) -> Bool {
        sizeBytes == candidate.size && mtimeNs == candidate.mtimeNs
            && (changeNs == nil || changeNs == candidate.changeNs)
            && (inode == nil || inode == candidate.inode)
    }
}

extension LedgerSettlement {
    /// What a recorded entry tells of the file it settled.
    init(_ entry: LedgerEntry) {
        self.init(
            state: entry.state, sizeBytes: entry.sizeBytes, mtimeNs: entry.mtimeNs,
            nextAttemptAt: entry.nextAttemptAt, changeNs: entry.changeNs, inode: entry.inode,
            fileId: entry.fileId)
    }
}

extension FileKind: DatabaseValueConvertible {}
extension LedgerState: DatabaseValueConvertible {}
extension AfterCommitDestination: DatabaseValueConvertible {}
