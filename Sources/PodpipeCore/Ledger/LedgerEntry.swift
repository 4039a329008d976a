import GRDB

/// A ledger state (SPEC §3).
public enum LedgerState: String, Sendable, Codable, CaseIterable {
    case loaded
    case rejected
    case duplicate
    case failed
}

/// One row of `ingest_file`, the processed-file ledger.
struct LedgerEntry: Sendable, Codable, FetchableRecord, MutablePersistableRecord, Equatable {
    static let databaseTableName = "ingest_file"

    var fileId: Int64?
    var name: String
    var kind: FileKind
    var sha256: String
    var sizeBytes: Int64
    var mtime: String
    var mtimeNs: Int64
    var state: LedgerState
    var duplicateOf: Int64?
    var previousVersion: Int64?
    var rowsRead: Int64 = 0
    var rowsLoaded: Int64 = 0
    var rowsRejected: Int64 = 0
    var rowsDuplicate: Int64 = 0
    var firstError: String?
    var firstErrorLine: Int64?
    var message: String?
    var attempts: Int64 = 1
    var nextAttemptAt: String?
    var startedAt: String
    var finishedAt: String
    var durationMs: Int64 = 0
    /// The file's bronze_event rows: bronze_id from first to last (migration 0004); nil when
    /// it has none.
    var bronzeFirstId: Int64?
    var bronzeLastId: Int64?
    /// The file's status-change time (ns) and inode when it was read (migration 0007); nil
    /// on rows written before it.
    var changeNs: Int64?
    var inode: Int64?
    /// Where the file went after its commit, the path it was moved to, and when (migration
    /// 0010, `ingest.after`); nil while it is in the drop folder.
    var disposal: AfterCommitDestination?
    var disposedTo: String?
    var disposedAt: String?

    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy
        .convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy
        .convertToSnakeCase

    mutating func didInsert(_ inserted: InsertionSuccess) {
        fileId = inserted.rowID
    }
}

/// What a pass and `status` need of a file's newest ledger row to tell whether the file in
/// the folder is settled (``Ledger/latestByName(_:)``).
struct LedgerSettlement: Sendable, Equatable {
    var state: LedgerState
    var sizeBytes: Int64
    var mtimeNs: Int64
    var nextAttemptAt: String?
    var changeNs: Int64? = nil
    var inode: Int64? = nil
    /// The entry's row (nil in tests that build one by hand).
    var fileId: Int64? = nil

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
