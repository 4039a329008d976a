import PodpipeRules

// Silver's natural-key index is ordered by (ts, user_id, episode_id, event_type). Rows
// inserted in file order land all over it when a file's events are not in time order (late
// syncs, merged queues: each file of the seed sample spans months), and once the index is
// larger than the page cache every insert reads and dirties another leaf page, so a file's
// load time grew with the history (issue 15). The loader therefore takes the parser's
// batches in runs of up to `SilverRuns.runLines` lines and inserts each run's valid rows in
// timestamp order: every leaf page of the index is then visited once per run, as in a merge,
// whatever the order of the lines. Bronze still takes every line in file order, after the
// run's silver rows (a line's outcome, silver or duplicate, is known only then). A batch
// already in timestamp order that continues the rows before it (a time-ordered file) is
// found so in one pass and goes to the writer as it is: no copy into a run, no sort.
//
// First row wins as before: rows of the same timestamp keep their file order (ties are broken
// by the line's position), so of two rows with the same natural key the earlier line is
// inserted first and the later one is the duplicate. Sorting by the timestamp alone is enough
// for the locality: rows of one timestamp sit next to each other in the index anyway.
//
// Silver's event_id (fact_user_interactions.interaction_id) is given in insertion order, so
// within a run it now follows the timestamps, not the line numbers; it stays stable once
// given.

/// The order in which a run's valid rows meet silver's natural-key index.
enum SilverInsertOrder {
    /// Positions of the non-nil `timestamps` (the valid rows), by timestamp, ties in
    /// position order.
    static func order(_ timestamps: [Int64?]) -> [Int] {
        order(count: timestamps.count) { timestamps[$0] }
    }

    /// Indices of the valid lines of a run, in insertion order.
    static func order(of lines: [ParsedLine]) -> [Int] {
        order(count: lines.count) { lines[$0].validTimestamp }
    }

    /// The positions `0..<count` with a timestamp, by timestamp, ties in position order. Rows
    /// already in that order (time-ordered files: the usual case) are found so in the pass that
    /// collects them and are not sorted.
    private static func order(count: Int, _ timestamp: (Int) -> Int64?) -> [Int] {
        var indices: [Int] = []
        indices.reserveCapacity(count)
        var last = Int64.min
        var sorted = true
        for index in 0..<count {
            guard let value = timestamp(index) else { continue }
            if value < last { sorted = false }
            last = value
            indices.append(index)
        }
        if sorted { return indices }
        var keyed = indices.map { (timestamp: timestamp($0) ?? 0, index: $0) }
        keyed.sort { $0.timestamp != $1.timestamp ? $0.timestamp < $1.timestamp : $0.index < $1.index }
        return keyed.map(\.index)
    }

    /// The largest timestamp of `lines` if their valid rows are in timestamp order and none is
    /// earlier than `after`; nil otherwise. Rows with no valid line: `after`.
    static func inOrder(_ lines: [ParsedLine], after: Int64) -> Int64? {
        var last = after
        for line in lines {
            guard let value = line.validTimestamp else { continue }
            if value < last { return nil }
            last = value
        }
        return last
    }

    /// The largest timestamp of the valid rows of `lines`, or `Int64.min` without one.
    static func latest(_ lines: [ParsedLine]) -> Int64 {
        lines.reduce(Int64.min) { max($0, $1.validTimestamp ?? .min) }
    }
}

extension ParsedLine {
    /// The event's timestamp if the line is valid.
    var validTimestamp: Int64? {
        if case .valid(let event) = outcome { return event.timestamp }
        return nil
    }
}

/// Merges the parser's batches into runs of at most about ``runLines`` lines for the writer,
/// who inserts each run's silver rows in ``SilverInsertOrder``.
///
/// Memory: one run's raw bytes and parsed lines (about 10-15 MB for 65,536 lines of ~125
/// bytes) besides the hand-off's four batches.
struct SilverRuns {
    /// Lines per run: each index page is visited at most once per run, so larger runs cost
    /// fewer page visits per file; memory bounds them (doc/performance.md).
    static let runLines = 65_536

    private let handOff: HandOff<ParserMessage>
    /// A message already taken that goes out after the run it ended.
    private var deferred: ParserMessage?
    private var finished = false
    /// The latest timestamp of the runs handed out so far.
    private var latest = Int64.min

    init(_ handOff: HandOff<ParserMessage>) {
        self.handOff = handOff
    }

    /// The next message for the writer, like `HandOff.take()`: a run (the lines of one or
    /// more batches, their byte offsets rebased into one buffer), the end, or a failure; nil
    /// once there is nothing more.
    mutating func take() -> ParserMessage? {
        if let message = deferred {
            deferred = nil
            return message
        }
        if finished { return nil }
        var run = ParsedBatch()
        while let message = handOff.take() {
            switch message {
            case .batch(let batch):
                if run.lines.isEmpty {
                    // A batch whose rows are already in timestamp order and continue the runs
                    // before it (a time-ordered file) goes out alone: merging and sorting it
                    // would only copy it, the index already meets its rows in order.
                    if let last = SilverInsertOrder.inOrder(batch.lines, after: latest) {
                        latest = last
                        return .batch(batch)
                    }
                    run = batch
                } else {
                    Self.append(batch, to: &run)
                }
                if run.lines.count >= Self.runLines { return handOut(run) }
            case .end:
                finished = true
                if run.lines.isEmpty { return message }
                deferred = message
                return handOut(run)
            case .failed:
                // The unfinished run is dropped: the caller's transaction rolls back anyway.
                finished = true
                return message
            }
        }
        finished = true
        return run.lines.isEmpty ? nil : handOut(run)
    }

    private mutating func handOut(_ run: ParsedBatch) -> ParserMessage {
        latest = max(latest, SilverInsertOrder.latest(run.lines))
        return .batch(run)
    }

    static func append(_ batch: ParsedBatch, to run: inout ParsedBatch) {
        let offset = run.bytes.count
        run.bytes.append(contentsOf: batch.bytes)
        run.lines.reserveCapacity(run.lines.count + batch.lines.count)
        for var line in batch.lines {
            line.start += offset
            run.lines.append(line)
        }
    }
}
