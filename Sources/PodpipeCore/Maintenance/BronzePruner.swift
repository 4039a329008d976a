import Foundation
import GRDB

/// What a prune did, so far or in all.
struct BronzePruneTally: Codable, Sendable, Equatable {
    /// Files loaded before this time (ISO 8601 UTC) were pruned.
    var loadedBefore: String
    /// Event files whose valid lines had rows in bronze that this prune deleted.
    var files: Int64 = 0
    /// bronze_event rows deleted.
    var rowsDeleted: Int64 = 0

    func json() -> String { JSONText.snakeCase(self) }

    func text() -> String {
        "pruned bronze of event files loaded before \(loadedBefore): \(rowsDeleted) row(s) of valid lines deleted from \(files) file(s); their rejected rows, silver, gold and the ledger stay. The space is reused by new loads (VACUUM gives it back to the system: doc/operations.md)."
    }
}

/// `podpipectl prune --bronze-before DATE`: deletes the bronze rows of the valid lines
/// (outcome `silver` or `duplicate`) of event files recorded `loaded` before DATE. Rejected
/// rows stay (they are what `rejects` shows and `revalidate` may still admit), as do silver,
/// gold and the ledger; reference files' bronze is small and is what `revalidate` replays,
/// so it stays too.
///
/// In batches: each deletes the rows of one window of a file's bronze_id range (a file's rows
/// are one range: migration 0004) in a transaction of its own, so that readers and, in the
/// daemon, the next file never wait long. A file is marked (`bronze_pruned_at`) in its first
/// batch's transaction: `revalidate` then keeps its silver rows as they are instead of
/// dropping the events whose lines are gone. A prune that stops half-way (a crash, a stop)
/// is finished by the next one: a window whose valid rows are gone deletes nothing.
struct BronzePruner {
    /// bronze_id values per batch.
    static let defaultWindow: Int64 = 16_384

    /// bronze_id values per batch (tests make it small).
    var window: Int64 = Self.defaultWindow
    var tally: BronzePruneTally
    /// The file being pruned and the next bronze_id of its range; nil: find the next file.
    private var current: (fileId: Int64, next: Int64, last: Int64, deleted: Int64)?
    private var lastFileId: Int64 = 0
    private(set) var done = false

    init(loadedBefore: String) {
        tally = BronzePruneTally(loadedBefore: loadedBefore)
    }

    /// Runs one batch in the caller's transaction; sets ``done`` when no file is left.
    mutating func step(_ db: Database, now: Date) throws {
        if current == nil {
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT file_id, bronze_first_id, bronze_last_id FROM ingest_file
                        WHERE file_id > ? AND state = 'loaded' AND kind = 'events'
                          AND finished_at < ? AND bronze_first_id IS NOT NULL
                        ORDER BY file_id LIMIT 1
                        """, arguments: [lastFileId, tally.loadedBefore])
            else {
                done = true
                return
            }
            let fileId: Int64 = row["file_id"] ?? 0
            current = (fileId, row["bronze_first_id"] ?? 0, row["bronze_last_id"] ?? -1, 0)
            lastFileId = fileId
        }
        guard var file = current else { return }
        let upTo = min(file.last, file.next.addingReportingOverflow(max(1, window) - 1).partialValue)
        try db.execute(
            sql: """
                DELETE FROM bronze_event
                WHERE bronze_id BETWEEN ? AND ? AND file_id = ? AND outcome <> 'rejected'
                """, arguments: [file.next, upTo, file.fileId])
        let deleted = Int64(db.changesCount)
        if deleted > 0 {
            try db.execute(
                sql:
                    "UPDATE ingest_file SET bronze_pruned_at = ? WHERE file_id = ? AND bronze_pruned_at IS NULL",
                arguments: [ISOTime.format(now), file.fileId])
            if file.deleted == 0 { tally.files += 1 }
            file.deleted += deleted
            tally.rowsDeleted += deleted
        }
        if upTo >= file.last {
            current = nil
        } else {
            file.next = upTo + 1
            current = file
        }
    }

    /// Runs batches, each in its own transaction on `session`'s writer, until done or, with
    /// `budget`, until that many seconds have passed (the daemon's turn between two files).
    mutating func run(on session: WriterSession, now: Date, budget: Double?) throws {
        let started = Date()
        while !done {
            try session.store.pool.write { db in try step(db, now: now) }
            if let budget, Date().timeIntervalSince(started) >= budget { return }
        }
    }
}
