import Foundation
import GRDB
import GRDBSQLite
import PodpipeRules

/// Inserts an event file's valid rows into silver, one ``SilverRun`` at a time, and tells
/// which keys were new: the one place that decides whether a key is already in silver
/// (Store/SilverKeySlot.swift gives the rules; SilverSortedInsert.swift the order).
///
/// A row whose slot is not recorded as a collision goes in through a multi-row
/// `INSERT OR IGNORE` at its slot, `rowsPerInsert` at a time. A statement that changed as
/// many rows as it had inserted them all (the usual case); otherwise its new rows are those
/// after the largest event_id before it (a new rowid is always the largest + 1), read back
/// by rowid. (`RETURNING line_no` told the same for every statement, but it buffers its rows
/// in an ephemeral table opened and closed per execution, a third of the load's time;
/// doc/performance.md.) Each row it ignored is then compared with the row at its slot: the
/// same key is a duplicate; another key is a collision, recorded, and the row goes the
/// recorded slot's way: looked up on its full key, and inserted at its slot if that is free
/// now, or with key_hash NULL. (No row at the slot: the dry run's trigger ignored a key the
/// database has, Inspect/dry_run_shadow.sql: a duplicate.)
struct SilverInserter {
    private let many: BulkStatement
    private let one: BulkStatement
    private let insertedLines: BulkStatement
    private let occupant: BulkStatement
    private let exact: BulkStatement
    private let record: BulkStatement
    private let ids = BoundTexts()
    /// Slots where two keys met (silver_event_key_collision), read when the load begins.
    private var collisions: Set<SilverKeySlot>
    /// The largest event_id so far.
    private(set) var lastEventId: Int64

    /// Rows per multi-row INSERT: one statement execution (cursor opens, VDBE set-up and
    /// halt) serves this many rows instead of one.
    static let rowsPerInsert = 64

    static func silverSQL(rows: Int) -> String {
        """
        INSERT OR IGNORE INTO silver_event
            (ts, user_id, episode_id, event_type, duration, file_id, line_no, key_hash)
        VALUES \(MultiRowValues.placeholders(columns: 8, rows: rows))
        """
    }

    init(_ db: Database) throws {
        many = try BulkStatement(db, sql: Self.silverSQL(rows: Self.rowsPerInsert))
        one = try BulkStatement(db, sql: Self.silverSQL(rows: 1))
        insertedLines = try BulkStatement(db, sql: "SELECT line_no FROM silver_event WHERE event_id > ?")
        occupant = try BulkStatement(
            db, sql: "SELECT user_id, episode_id, event_type FROM silver_event WHERE ts = ? AND key_hash = ?")
        exact = try BulkStatement(
            db,
            sql: """
                SELECT 1 FROM silver_event
                WHERE ts = ? AND user_id = ? AND episode_id = ? AND event_type = ? LIMIT 1
                """)
        record = try BulkStatement(
            db, sql: "INSERT OR IGNORE INTO silver_event_key_collision (ts, key_hash) VALUES (?, ?)")
        var collisions = Set<SilverKeySlot>()
        for row in try Row.fetchAll(db, sql: "SELECT ts, key_hash FROM silver_event_key_collision") {
            collisions.insert(SilverKeySlot(ts: row[0], keyHash: row[1]))
        }
        self.collisions = collisions
        lastEventId = try Int64.fetchOne(db, sql: "SELECT max(event_id) FROM silver_event") ?? 0
    }

    /// Inserts `rows` in their order, which is ``SilverInsertOrder`` (``SilverRun`` puts them
    /// so on the parser's thread); returns, per row, whether its key was new.
    mutating func insert(_ rows: [SilverRow], fileId: Int64) throws -> [Bool] {
        let many = Self.rowsPerInsert
        var inserted = [Bool](repeating: false, count: rows.count)
        var group: [Int] = []
        group.reserveCapacity(many)
        for index in rows.indices {
            if !collisions.isEmpty, collisions.contains(rows[index].slot) {
                inserted[index] = try insertAtRecordedSlot(rows[index], fileId)
                continue
            }
            group.append(index)
            if group.count == many {
                try insertAtSlots(group, rows, many: true, fileId, &inserted)
                group.removeAll(keepingCapacity: true)
            }
        }
        for index in group {
            try insertAtSlots([index], rows, many: false, fileId, &inserted)
        }
        return inserted
    }

    /// Inserts the rows `group` (indices into `rows`, in insertion order) at their slots in
    /// one statement, marks in `inserted` those that went in, and settles those ignored.
    private mutating func insertAtSlots(
        _ group: [Int], _ rows: [SilverRow], many: Bool, _ fileId: Int64, _ inserted: inout [Bool]
    ) throws {
        let statement = many ? self.many : one
        var idBytes = 0
        for index in group {
            idBytes += rows[index].event.userId.utf8.count + rows[index].event.episodeId.utf8.count
        }
        let changed = try ids.withBound(idBytes) { ids in
            for (row, index) in group.enumerated() {
                let event = rows[index].event
                let base = Int32(row * 8)
                statement.bind(base + 1, event.timestamp)
                ids.bind(statement, base + 2, event.userId)
                ids.bind(statement, base + 3, event.episodeId)
                Self.bindRest(statement, base, rows[index], fileId: fileId, keyHash: rows[index].keyHash)
            }
            return Int(try statement.run())
        }
        if changed > 0 {
            let before = lastEventId
            lastEventId = statement.lastInsertedRowid
            if changed == group.count {
                for index in group { inserted[index] = true }
                return
            }
            // Some were ignored: the new rows are those after `before`, in rowid order, which
            // is the statement's order: one walk of the group finds them. (A line of the file
            // is in a run once, so line numbers tell the group's rows apart.)
            insertedLines.bind(1, before)
            var next = 0
            try insertedLines.forEachReturnedInteger { lineNo in
                while next < group.count, rows[group[next]].lineNo != lineNo { next += 1 }
                if next < group.count {
                    inserted[group[next]] = true
                    next += 1
                }
            }
        }
        for index in group where !inserted[index] {
            if try isHeldByAnotherKey(rows[index].slot, rows[index].event) {
                try recordCollision(rows[index].slot)
                inserted[index] = try insertAtRecordedSlot(rows[index], fileId)
            }
        }
    }

    /// Whether a key other than `event`'s holds `slot` (false: the same key, a duplicate, or
    /// none).
    private func isHeldByAnotherKey(_ slot: SilverKeySlot, _ event: CleanEvent) throws -> Bool {
        occupant.bind(1, slot.ts)
        occupant.bind(2, slot.keyHash)
        var other = false
        try occupant.forEachRow { row in
            other =
                Self.text(row, 0) != event.userId || Self.text(row, 1) != event.episodeId
                || Self.text(row, 2) != event.eventType.name
        }
        return other
    }

    /// A row whose slot is recorded: new unless its full key is found; then inserted at its
    /// slot if that is free, or with key_hash NULL.
    private mutating func insertAtRecordedSlot(_ row: SilverRow, _ fileId: Int64) throws -> Bool {
        let event = row.event
        exact.bind(1, event.timestamp)
        exact.bindText(2, event.userId)
        exact.bindText(3, event.episodeId)
        exact.bindStatic(4, event.eventType.staticName)
        var found = false
        try exact.forEachRow { _ in found = true }
        if found { return false }
        for keyHash in [row.keyHash, nil] {
            one.bind(1, event.timestamp)
            one.bindText(2, event.userId)
            one.bindText(3, event.episodeId)
            Self.bindRest(one, 0, row, fileId: fileId, keyHash: keyHash)
            if try one.run() == 1 {
                lastEventId = one.lastInsertedRowid
                return true
            }
        }
        return false  // the dry run's trigger: the database has the key
    }

    private mutating func recordCollision(_ slot: SilverKeySlot) throws {
        record.bind(1, slot.ts)
        record.bind(2, slot.keyHash)
        _ = try record.run()
        collisions.insert(slot)
    }

    /// Binds a row's columns after the ids: event_type, duration, file_id, line_no, key_hash.
    @inline(__always) private static func bindRest(
        _ statement: BulkStatement, _ base: Int32, _ row: SilverRow, fileId: Int64, keyHash: Int64?
    ) {
        statement.bindStatic(base + 4, row.event.eventType.staticName)
        if let duration = row.event.duration {
            statement.bind(base + 5, duration)
        } else {
            statement.bindNull(base + 5)
        }
        statement.bind(base + 6, fileId)
        statement.bind(base + 7, row.lineNo)
        if let keyHash {
            statement.bind(base + 8, keyHash)
        } else {
            statement.bindNull(base + 8)
        }
    }

    private static func text(_ row: OpaquePointer, _ column: Int32) -> String {
        guard let pointer = sqlite3_column_text(row, column) else { return "" }
        let count = Int(sqlite3_column_bytes(row, column))
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: count), as: UTF8.self)
    }
}

extension SilverKeySlot {
    /// The slot of a valid event's natural key.
    init(_ event: CleanEvent) {
        self.init(
            ts: event.timestamp, userId: event.userId, episodeId: event.episodeId,
            eventType: event.eventType.name)
    }
}
