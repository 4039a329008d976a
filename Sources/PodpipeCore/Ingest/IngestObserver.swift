import GRDB
import PodpipeRules

/// What the ingest announces to stages that follow it (the gold prefetch is one), so that
/// it never names them: the rows a file inserted into silver, and how the file's
/// transaction ended. Called on the writer's thread, inside the file's transaction.
protocol IngestObserver: AnyObject, Sendable {
    /// An event file's rows are about to be inserted: `silverLast` is silver's largest
    /// event_id before them, `expectedEvents` a guess of its lines from its size.
    func eventFileBegins(silverLast: Int64, expectedEvents: Int64, _ db: Database) throws
    /// Rows just inserted into silver: the valid `lines` marked in `inserted`.
    func eventRowsInserted(_ lines: [ParsedLine], inserted: [Bool])
    /// The current file's rows were rolled back (a file rejected midway, a duplicate, a
    /// failure or a stop): rows announced for it are not in silver.
    func fileRolledBack()
    /// The current file's transaction committed.
    func fileCommitted()
}
