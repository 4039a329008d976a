import GRDB
import PodpipeRules

/// What the ingest announces to stages that follow it (the gold prefetch and the
/// after-commit stage), so that it never names them: the rows a file inserted into silver,
/// how the file's transaction ended, and which files of the folder are settled. The first
/// four are called on the writer's thread, inside the file's transaction.
protocol IngestObserver: AnyObject, Sendable {
    /// An event file's rows are about to be inserted: `silverLast` is silver's largest
    /// event_id before them, `expectedEvents` a guess of its lines from its size.
    func eventFileBegins(silverLast: Int64, expectedEvents: Int64, _ db: Database) throws
    /// A run of the file's valid rows was just inserted into silver: those marked in
    /// `inserted` are new, the others were duplicates.
    func eventRowsInserted(_ rows: [SilverRow], inserted: [Bool])
    /// The current file's rows were rolled back (a file rejected midway, a duplicate, a
    /// failure or a stop): rows announced for it are not in silver.
    func fileRolledBack()
    /// The current file's transaction committed.
    func fileCommitted()
    /// Every file since the last commit was rolled back (a group of files sharing one
    /// transaction failed): rows announced for any of them are not in silver.
    func filesRolledBack()

    /// Whether this observer wants ``filesSettled(_:)`` at all (the ingest then reads and
    /// announces the settled files of each listing).
    var followsSettledFiles: Bool { get }
    /// Files in the folder whose final ledger entry (loaded, rejected or duplicate) has
    /// committed: one just now (called after its COMMIT, outside any transaction), or
    /// several found so by a listing, in its order. Never throws: what follows a commit
    /// cannot undo it.
    func filesSettled(_ files: [SettledFile])
}

extension IngestObserver {
    func filesRolledBack() { fileRolledBack() }
    var followsSettledFiles: Bool { false }
    func filesSettled(_ files: [SettledFile]) {}
}

/// A file of the drop folder and the final ledger entry that settles it.
struct SettledFile: Sendable {
    var candidate: Candidate
    var entry: LedgerSettlement
}

/// Several observers, told in order (``WriterSession`` puts the gold prefetch first).
final class IngestObservers: IngestObserver {
    let all: [any IngestObserver]

    init(_ all: [any IngestObserver]) { self.all = all }

    func eventFileBegins(silverLast: Int64, expectedEvents: Int64, _ db: Database) throws {
        for observer in all {
            try observer.eventFileBegins(silverLast: silverLast, expectedEvents: expectedEvents, db)
        }
    }
    func eventRowsInserted(_ rows: [SilverRow], inserted: [Bool]) {
        for observer in all { observer.eventRowsInserted(rows, inserted: inserted) }
    }
    func fileRolledBack() { for observer in all { observer.fileRolledBack() } }
    func fileCommitted() { for observer in all { observer.fileCommitted() } }
    func filesRolledBack() { for observer in all { observer.filesRolledBack() } }
    var followsSettledFiles: Bool { all.contains { $0.followsSettledFiles } }
    func filesSettled(_ files: [SettledFile]) {
        for observer in all where observer.followsSettledFiles { observer.filesSettled(files) }
    }
}
