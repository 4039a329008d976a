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
    /// The same SQL on both engines; on PostgreSQL the batch first holds silver writers back
    /// (``MaintenanceDatabase/holdSilverWriters()``), so that it never runs inside another
    /// host's `revalidate` or `reprocess`, which read bronze and silver as one state.
    mutating func step(_ db: any MaintenanceDatabase, now: Date) throws {
        try db.holdSilverWriters()
        if current == nil {
            guard
                let row = try db.table(
                    """
                    SELECT file_id, bronze_first_id, bronze_last_id FROM ingest_file
                    WHERE file_id > $1 AND state = 'loaded' AND kind = 'events'
                      AND finished_at < $2 AND bronze_first_id IS NOT NULL
                    ORDER BY file_id LIMIT 1
                    """, [.integer(lastFileId), .text(tally.loadedBefore)]
                ).rows.first, row.count == 3
            else {
                done = true
                return
            }
            let fileId = row[0].int64Value ?? 0
            current = (fileId, row[1].int64Value ?? 0, row[2].int64Value ?? -1, 0)
            lastFileId = fileId
        }
        guard var file = current else { return }
        let upTo = min(file.last, file.next.addingReportingOverflow(max(1, window) - 1).partialValue)
        let deleted = try db.execute(
            """
            DELETE FROM bronze_event
            WHERE bronze_id BETWEEN $1 AND $2 AND file_id = $3 AND outcome <> 'rejected'
            """, [.integer(file.next), .integer(upTo), .integer(file.fileId)])
        if deleted > 0 {
            try db.execute(
                "UPDATE ingest_file SET bronze_pruned_at = $1 WHERE file_id = $2 AND bronze_pruned_at IS NULL",
                [.text(ISOTime.format(now)), .integer(file.fileId)])
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

    /// ``step(_:now:)`` on a GRDB connection (in the caller's write transaction).
    mutating func step(_ db: Database, now: Date) throws {
        try step(SQLiteQueries(db: db), now: now)
    }

    /// Runs batches, each in its own transaction on `writer`, until done or, with `budget`,
    /// until that many seconds have passed (the daemon's turn between two files).
    mutating func run(on writer: any MaintenanceWriter, now: Date, budget: Double?) throws {
        let started = Date()
        while !done {
            try writer.write { db in try step(db, now: now) }
            if let budget, Date().timeIntervalSince(started) >= budget { return }
        }
    }
}
