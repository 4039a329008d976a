import Foundation

/// Where a reference row's file stands in the order that decides which row of an id wins:
/// the drop folder's processing order (oldest first: modification time, then name in byte
/// order, as ``DropFolder`` lists files). Within a file, the line number comes last
/// (``ReferenceOrder``).
struct ReferencePlace: Sendable, Hashable, Comparable {
    /// Modification time, ns since the epoch, of the newest delivery of the file's bytes.
    var mtimeNs: Int64
    /// That delivery's file name (compared by its bytes, as SQLite's BINARY collation does).
    var name: String

    static func < (a: ReferencePlace, b: ReferencePlace) -> Bool {
        if a.mtimeNs != b.mtimeNs { return a.mtimeNs < b.mtimeNs }
        return Array(a.name.utf8).lexicographicallyPrecedes(Array(b.name.utf8))
    }
}

/// The one rule for reference data (SPEC §2.2 "latest wins", issue 14): **per id, the row
/// with the latest place wins**, a place being (modification time, name, line number):
///
/// - A file's place is that of the *newest delivery of its bytes*: the latest (mtime, name)
///   among the ledger entries holding them — the file loaded, the copies recorded
///   `duplicate` of it, and the newest time its bytes were seen with under its own name (an
///   `unchanged` file whose mtime moved: `ingest_file.delivered_mtime_ns`). The rows are
///   loaded once (bronze is not duplicated); a re-delivery with a newer time moves them, and
///   they win where they are now the latest. A delivery never moves them back: a copy with
///   an older time is an older delivery. (`Ledger.referencePlaces` computes it.)
/// - File order, not load order: an older export that arrives late loses to the newer one
///   already loaded; forgetting a file (`podpipectl reprocess`) and loading it again puts
///   its rows back where they were; `revalidate` and `reprocess` replay bronze with the
///   same comparison, so they give what a fresh load of the files in this order gives.
/// - Ties (the same time and name: new bytes written with the old mtime kept) go to the row
///   processed later: the comparison is "not before" (`>=`).
///
/// Why file order: it is the order the producer wrote the exports in (what "latest" means to
/// whoever made them), it does not depend on when podpiped happened to see a file, and it is
/// the order a pass already processes a folder in — so loading a whole folder at once and
/// loading it file by file give the same silver.
///
/// Silver stores each row's place (`order_mtime_ns`, `order_name`, `line_no`; migration
/// 0008) so that an upsert compares with it in SQL, without looking anything up.
enum ReferenceOrder {
    /// The SQL condition "the row `new` takes the id from the row `old`": its place is not
    /// before `old`'s. `new` and `old` name rows (or tables) with the columns
    /// `order_mtime_ns`, `order_name`, `line_no`; the upserts use `excluded` and the table.
    static func wins(_ new: String, over old: String) -> String {
        """
        (\(new).order_mtime_ns, \(new).order_name, \(new).line_no) \
        >= (\(old).order_mtime_ns, \(old).order_name, \(old).line_no)
        """
    }

    /// `sql` with the placeholder `{{wins(new, old)}}` (in `.sql` resources) replaced by
    /// ``wins(_:over:)``.
    static func expand(_ sql: String, new: String, old: String) -> String {
        sql.replacingOccurrences(of: "{{wins(\(new), \(old))}}", with: wins(new, over: old))
    }
}
