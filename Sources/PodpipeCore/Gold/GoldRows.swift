import Foundation
import GRDB
import GRDBSQLite
import PodpipeRules

/// The gold code's row loop over raw statement handles (no `Row` per row on its scans).
enum GoldRows {
    /// Steps `sql` with `arguments` bound to ?1, ?2 … over all its rows, calling `body` with
    /// the statement handle positioned on each. `step` names the refresh step in errors.
    static func forEach(
        _ db: Database, _ sql: String, arguments: [Int64] = [], step: String,
        _ body: (OpaquePointer) throws -> Void
    ) throws {
        let select = try db.makeStatement(sql: sql)
        let handle = select.sqliteStatement
        sqlite3_reset(handle)
        defer { sqlite3_reset(handle) }
        for (index, value) in arguments.enumerated() {
            sqlite3_bind_int64(handle, Int32(index + 1), value)
        }
        let rc = try RawRows.step(handle, body)
        guard rc == SQLITE_DONE else {
            throw GoldError.stepFailed(
                step: step, underlying: DatabaseError(resultCode: ResultCode(rawValue: rc)))
        }
    }
}
