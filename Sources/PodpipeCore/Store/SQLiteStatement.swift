import GRDB
import GRDBSQLite

/// A thin wrapper over a raw prepared statement for the bulk-insert hot path.
///
/// Binding the raw `sqlite3_stmt` directly is about twice as fast as GRDB's argument
/// binding on this path (doc/performance.md), so bronze and silver inserts bind through
/// this type. The
/// statement belongs to its GRDB `Statement`, which owns and finalizes it.
struct BulkStatement {
    let statement: Statement
    let handle: OpaquePointer
    let connection: OpaquePointer

    init(_ db: Database, sql: String) throws {
        statement = try db.makeStatement(sql: sql)
        handle = statement.sqliteStatement
        guard let connection = db.sqliteConnection else {
            throw SQLiteStatementError(message: "the database connection is closed", file: nil)
        }
        self.connection = connection
    }

    @inline(__always) func bind(_ index: Int32, _ value: Int64) {
        sqlite3_bind_int64(handle, index, value)
    }

    @inline(__always) func bindNull(_ index: Int32) {
        sqlite3_bind_null(handle, index)
    }

    /// Binds bytes as TEXT, copied by SQLite (they may be a transient view).
    @inline(__always) func bindText(_ index: Int32, _ bytes: UnsafeRawBufferPointer) {
        if let pointer = bytes.baseAddress?.assumingMemoryBound(to: CChar.self) {
            sqlite3_bind_text(handle, index, pointer, Int32(bytes.count), sqliteTransient)
        } else {
            sqlite3_bind_text(handle, index, "", 0, nil)
        }
    }

    /// Binds bytes as TEXT without copying: they must stay valid until the next `run()`.
    @inline(__always) func bindTextNoCopy(_ index: Int32, _ bytes: UnsafeRawBufferPointer) {
        if let pointer = bytes.baseAddress?.assumingMemoryBound(to: CChar.self) {
            sqlite3_bind_text(handle, index, pointer, Int32(bytes.count), nil)
        } else {
            sqlite3_bind_text(handle, index, "", 0, nil)
        }
    }

    @inline(__always) func bindText(_ index: Int32, _ string: String) {
        var copy = string
        copy.withUTF8 { utf8 in
            bindText(index, UnsafeRawBufferPointer(utf8))
        }
    }

    /// Binds a static string that outlives the statement execution (no copy).
    @inline(__always) func bindStatic(_ index: Int32, _ text: StaticString) {
        _ = text.utf8Start.withMemoryRebound(to: CChar.self, capacity: text.utf8CodeUnitCount) {
            sqlite3_bind_text(handle, index, $0, Int32(text.utf8CodeUnitCount), nil)
        }
    }

    /// Runs the statement once and resets it; returns the number of rows changed.
    @inline(__always) func run() throws -> Int32 {
        let rc = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard rc == SQLITE_DONE else {
            throw SQLiteStatementError(
                message: String(cString: sqlite3_errmsg(connection)) + " (SQLite code \(rc))",
                file: nil)
        }
        return sqlite3_changes(connection)
    }

    /// The rowid of the connection's last successful insert.
    var lastInsertedRowid: Int64 { sqlite3_last_insert_rowid(connection) }

    /// Runs a statement (a SELECT), calls `body` with the handle on each row, and resets it.
    @inline(__always) func forEachRow(_ body: (OpaquePointer) throws -> Void) throws {
        defer { sqlite3_reset(handle) }
        let rc = try RawRows.step(handle, body)
        guard rc == SQLITE_DONE else {
            throw SQLiteStatementError(
                message: String(cString: sqlite3_errmsg(connection)) + " (SQLite code \(rc))",
                file: nil)
        }
    }

    /// Runs a statement whose rows are one integer (a one-column SELECT), calls `body` with
    /// each, and resets it.
    @inline(__always) func forEachReturnedInteger(_ body: (Int64) -> Void) throws {
        try forEachRow { body(sqlite3_column_int64($0, 0)) }
    }
}

/// The one loop over a prepared statement's rows on its raw handle (no GRDB `Row` per row:
/// the bulk and gold scans read millions of rows). Callers bind before and reset after, and
/// turn a result other than `SQLITE_DONE` into their own error.
enum RawRows {
    /// Steps `handle` until it is done or fails, calling `body` on each row; returns the
    /// last result code (`SQLITE_DONE`, or the failure's code). `body`'s errors pass through.
    @inline(__always) static func step(_ handle: OpaquePointer, _ body: (OpaquePointer) throws -> Void) throws
        -> Int32
    {
        var rc = sqlite3_step(handle)
        while rc == SQLITE_ROW {
            try body(handle)
            rc = sqlite3_step(handle)
        }
        return rc
    }
}

/// The `VALUES` list of a multi-row INSERT: `rows` tuples of `columns` parameters,
/// `(?, ?), (?, ?)`. One statement execution serving many rows saves the per-execution
/// cost (cursor open, VDBE set-up and halt) of all but one.
enum MultiRowValues {
    static func placeholders(columns: Int, rows: Int) -> String {
        let tuple = "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
        return Array(repeating: tuple, count: rows).joined(separator: ", ")
    }
}

/// `SQLITE_TRANSIENT`, which the C macro defines as `(sqlite3_destructor_type)-1`.
let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// Texts bound to one statement execution without SQLite's own copy: each is copied into a
/// buffer held here and bound in place. SQLite's copy of a bound text (`SQLITE_TRANSIENT`)
/// is a malloc, a copy and a free per value, a visible share of a silver insert. The
/// buffer is sized before the binds and reused (never moved while its texts are bound).
final class BoundTexts {
    private var buffer: UnsafeMutableRawBufferPointer
    private var used = 0

    init(capacity: Int = 4096) {
        buffer = .allocate(byteCount: max(1, capacity), alignment: 1)
    }

    deinit { buffer.deallocate() }

    /// Makes room for `byteCount` bytes of texts, forgets those of the previous execution,
    /// and runs `body`, which binds with ``bind(_:_:_:)`` and runs the statement.
    func withBound<Result>(_ byteCount: Int, _ body: (BoundTexts) throws -> Result) rethrows -> Result {
        if byteCount > buffer.count {
            buffer.deallocate()
            buffer = .allocate(byteCount: max(byteCount, buffer.count * 2), alignment: 1)
        }
        used = 0
        return try body(self)
    }

    /// Binds `text` to parameter `index`, from this buffer (copied by SQLite only if the room
    /// reserved by ``withBound(_:_:)`` was too small).
    func bind(_ statement: BulkStatement, _ index: Int32, _ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            let bytes = UnsafeRawBufferPointer(utf8)
            guard used + bytes.count <= buffer.count else {
                statement.bindText(index, bytes)
                return
            }
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer[used..<(used + bytes.count)])
            target.copyMemory(from: bytes)
            statement.bindTextNoCopy(index, UnsafeRawBufferPointer(target))
            used += bytes.count
        }
    }
}

/// A statement of the writer's bulk path that SQLite refused.
struct SQLiteStatementError: Error, CustomStringConvertible, ExitCoded {
    let message: String
    let file: String?

    init(message: String, file: String?) {
        self.message = message
        self.file = file
    }

    var description: String {
        if let file { return "\(file): database error: \(message)" }
        return "database error: \(message)"
    }

    var exitCode: Int32 { PodpipeExit.databaseError }
}
