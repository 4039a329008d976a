import PodpipeRules

// Silver's natural-key index is ordered by (ts, user_id, episode_id, event_type). Rows
// inserted in file order land all over it when a file's events are not in time order (late
// syncs, merged queues: each file of the seed sample spans months), and once the index is
// larger than the page cache every insert reads and dirties another leaf page, so a file's
// load time grew with the history (issue 15). A file's valid rows are therefore gathered in
// runs of up to `SilverRun.capacity` rows and each run is inserted in timestamp order: every
// leaf page of the index is then visited at most once per run, as in a merge, whatever the
// order of the lines. A run costs a sweep of the index however few rows it holds, so a run
// holds only what silver needs (no raw text), which lets it be large: one run per file for
// files of up to `capacity` valid rows.
//
// The parser thread gathers and sorts the runs (``SilverRun/add(_:)``) and hands each over
// after the batch that completes it; the writer, the one thread SQLite lets write and the
// load's critical path, only inserts them. (Sorting and gathering on the writer were about 8 %
// of its time on seed-shaped data while the parser's core idled: doc/performance.md,
// session 17.)
//
// Bronze takes every line in file order as the parser hands it over, before the run it belongs
// to meets silver: a valid line goes in as `silver`, and the few whose natural key turns out
// to be there already are set to `duplicate` by their bronze_id once the run is inserted (in
// the same transaction, so no reader ever sees the provisional outcome).
//
// First row wins as before: rows of the same timestamp keep their file order (ties are broken
// by the row's position in the run, which is file order), so of two rows with the same natural
// key the earlier line is inserted first and the later one is the duplicate. Sorting by the
// timestamp alone is enough for the locality: rows of one timestamp sit next to each other in
// the index anyway.
//
// Silver's event_id (fact_user_interactions.interaction_id) is given in insertion order, so
// within a run it follows the timestamps, not the line numbers; it stays stable once given.

/// A valid line of an event file waiting for its silver insert.
struct SilverRow: Sendable {
    var event: CleanEvent
    /// The key's hash, 31 bits (``SilverKeySlot/hash(userId:episodeId:eventType:)``), kept in
    /// 32 so that the row takes 72 bytes, not 88: a run holds up to `SilverRun.capacity`.
    private var hash: UInt32
    var lineNo: Int64
    /// The line's place among the file's bronze rows, from 0: its bronze row (file's first
    /// bronze_id + position) becomes `duplicate` if the key is not new. (The parser, which
    /// makes the row, does not know the bronze_ids; the writer gives them.)
    var position: Int64

    init(event: CleanEvent, lineNo: Int64, position: Int64, keyHash: Int64) {
        self.event = event
        self.hash = UInt32(truncatingIfNeeded: keyHash)
        self.lineNo = lineNo
        self.position = position
    }

    /// The key's hash (``SilverKeySlot``).
    var keyHash: Int64 { Int64(hash) }

    var slot: SilverKeySlot { SilverKeySlot(ts: event.timestamp, keyHash: keyHash) }
}

/// An event file's valid rows not yet handed to silver, gathered on the parser's thread as
/// its batches go to the writer, and handed over in insertion order.
struct SilverRun {
    /// Rows per run: each index page is visited at most once per run, so larger runs cost
    /// fewer page visits per file; memory bounds them (about 70 bytes a row: ~9 MB; the
    /// writer inserts one run and the gold prefetch may hold another while the parser fills
    /// the next).
    static let capacity = 131_072

    /// This run's size (tests make it small).
    let capacity: Int
    private var rows: [SilverRow] = []
    /// The file's lines (bronze rows) handed over so far.
    private var lines: Int64 = 0

    init(capacity: Int = Self.capacity) {
        self.capacity = max(1, capacity)
    }

    /// Adds `batch`'s valid lines, which follow the batches added before in the file; returns
    /// the run, in insertion order, when it is full (it is handed over after the batch).
    mutating func add(_ batch: ParsedBatch) -> [SilverRow]? {
        for line in batch.lines {
            if case .valid(let event) = line.outcome {
                if rows.isEmpty { rows.reserveCapacity(capacity) }
                rows.append(
                    SilverRow(event: event, lineNo: line.lineNo, position: lines, keyHash: line.keyHash))
            }
            lines += 1
        }
        return rows.count >= capacity ? take() : nil
    }

    /// The last run, in insertion order, once the file's batches are all added; nil if empty.
    mutating func finish() -> [SilverRow]? {
        rows.isEmpty ? nil : take()
    }

    /// Hands the rows over in ``SilverInsertOrder`` and starts an empty run. The rows are
    /// put in order in place, not copied: a second run in memory would cost ~9 MB of peak.
    private mutating func take() -> [SilverRow] {
        var taken = rows
        rows = []
        let order = SilverInsertOrder.order(of: taken)
        // taken[i] = old taken[order[i]], one cycle of the permutation at a time.
        var placed = [Bool](repeating: false, count: taken.count)
        // (A row already in its place, as every row of a time-ordered file, is not copied.)
        for start in taken.indices where !placed[start] && order[start] != start {
            let first = taken[start]
            var at = start
            while true {
                placed[at] = true
                let from = order[at]
                if from == start {
                    taken[at] = first
                    break
                }
                taken[at] = taken[from]
                at = from
            }
        }
        return taken
    }
}

/// The order in which a run's valid rows meet silver's natural-key index.
enum SilverInsertOrder {
    /// Positions of the non-nil `timestamps` (the valid rows), by timestamp, ties in
    /// position order.
    static func order(_ timestamps: [Int64?]) -> [Int] {
        order(count: timestamps.count) { timestamps[$0] }
    }

    /// Indices of `rows` in insertion order.
    static func order(of rows: [SilverRow]) -> [Int] {
        order(count: rows.count) { rows[$0].event.timestamp }
    }

    /// The positions `0..<count` with a timestamp, by timestamp, ties in position order. Rows
    /// already in that order (time-ordered files: the usual case) are found so in the pass that
    /// collects them and are not sorted.
    private static func order(count: Int, _ timestamp: (Int) -> Int64?) -> [Int] {
        var indices: [Int] = []
        indices.reserveCapacity(count)
        var last = Int64.min
        var sorted = true
        var least = Int64.max
        for index in 0..<count {
            guard let value = timestamp(index) else { continue }
            if value < last { sorted = false }
            last = value
            least = min(least, value)
            indices.append(index)
        }
        if sorted { return indices }
        if let packed = packedOrder(indices, least: least, timestamp) { return packed }
        var keyed = indices.map { (timestamp: timestamp($0) ?? 0, index: $0) }
        keyed.sort { $0.timestamp != $1.timestamp ? $0.timestamp < $1.timestamp : $0.index < $1.index }
        return keyed.map(\.index)
    }

    /// The same order, sorted as single integers: the timestamp's offset from `least` above
    /// the position, when both fit in 64 bits (a run's timestamps span years at most, its
    /// positions 17 bits). Sorting plain integers instead of pairs through a closure made the
    /// sort of a seed-shaped run about three times faster, and sorting them by their bits
    /// (``RadixSort``) four times more (doc/performance.md, sessions 16 and 17). Nil
    /// when they do not fit.
    private static func packedOrder(_ indices: [Int], least: Int64, _ timestamp: (Int) -> Int64?) -> [Int]? {
        guard let largest = indices.last else { return [] }
        let positionBits = UInt64.bitWidth - UInt64(largest).leadingZeroBitCount
        var keys: [UInt64] = []
        keys.reserveCapacity(indices.count)
        for index in indices {
            let (offset, overflow) = (timestamp(index) ?? least).subtractingReportingOverflow(least)
            guard !overflow, UInt64(offset) >> (UInt64.bitWidth - positionBits) == 0 else { return nil }
            keys.append(UInt64(offset) << positionBits | UInt64(index))
        }
        RadixSort.sort(&keys)
        let mask: UInt64 = positionBits == 0 ? 0 : ~0 >> (UInt64.bitWidth - positionBits)
        return keys.map { Int($0 & mask) }
    }
}
