import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Sorted runs of fixed-size records in an anonymous temporary file, merged back in order:
/// the full gold rebuild's external sort of its keyed aggregates ((user, episode) sums,
/// (day, user, episode) keys, (day, episode) completions).
///
/// Each spill of the rebuild covers the whole (user, episode) key space (its events are a
/// slice of silver, its pairs are any), and when silver's rows are not in time order (every
/// file spanning the same months) its (day, …) keys cover every day too. Merged into their
/// tables spill by spill, every key after the first spill would be an upsert between the rows
/// already written. Written here instead (sequential writes, 24 or 32 bytes a key), merged
/// once at the end and inserted in key order into the empty table, each key once. Memory
/// stays bounded: one read buffer per run during the merge (one merge at a time).
///
/// The file is unlinked as soon as it is created: nothing is left behind by a crash. Used by
/// one thread at a time: it appends a run as it writes each spill, then merges (reading the
/// runs on a thread the merge starts and waits for).
final class SortedRuns<Record: BitwiseCopyable> {
    private let fd: Int32
    private let directory: String
    private var size = 0
    /// Each run's first record and record count.
    private(set) var runs: [(start: Int, count: Int)] = []

    /// Records read per run and refill during the merge (16 KiB a run: a rebuild merges
    /// about a hundred runs at most on the largest files benchmarked).
    static var bufferRecords: Int { max(1, 16_384 / MemoryLayout<Record>.stride) }

    init() throws {
        let directory = NSTemporaryDirectory()
        var template = Array((directory.hasSuffix("/") ? directory : directory + "/").utf8CString)
        template.removeLast()  // the NUL
        template.append(contentsOf: Array("podpipe-runs-XXXXXX".utf8CString))
        let fd = mkstemp(&template)
        guard fd >= 0 else {
            throw GoldError.scratchFile(directory: directory, operation: "create", errno: errno)
        }
        unlink(template)
        self.fd = fd
        self.directory = directory
    }

    deinit { close(fd) }

    /// Appends one run (already sorted by the caller's order).
    func append(_ records: [Record]) throws {
        guard !records.isEmpty else { return }
        try records.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            var offset = 0
            while offset < bytes.count {
                let n = pwrite(
                    fd, base + offset, bytes.count - offset,
                    off_t(size * MemoryLayout<Record>.stride + offset))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw GoldError.scratchFile(directory: directory, operation: "write", errno: errno)
                }
                offset += n
            }
        }
        runs.append((size, records.count))
        size += records.count
    }

    /// Calls `body` with every record of every run in the order of `key` (each run must be
    /// sorted by it), records of equal key one after the other, in the order of their runs.
    ///
    /// The merge runs on a thread of its own and hands its records over in batches, so that
    /// the heap (and the reads of the runs) and the caller's inserts overlap on two cores: in
    /// the rebuild at the end of a seed-shaped 5M load, the merge was a quarter of the
    /// writer's time while the other core idled (doc/performance.md, session 16).
    ///
    /// Each record's key is computed once, as it comes to the front of its run, and the heap
    /// holds the keys of the runs' front records beside the run numbers: a comparison is two
    /// integer comparisons, not the callers' lookups of the names' ranks (the merge of every
    /// spill's keys was a third of the full rebuild's time on files not in time order, whose
    /// spills all cover the whole key space: doc/performance.md, session 14).
    func merge(key: @escaping @Sendable (Record) -> MergeKey, _ body: (Record) throws -> Void) throws
    where Record: Sendable {
        let reader = RunReader(fd: fd, directory: directory)
        let runs = self.runs
        // The merging thread only reads the runs' file, which this object closes: it is gone
        // before this returns, whatever happens here.
        try HandOff<MergeMessage<Record>>.withProducer(
            name: "podpipe-gold-merge", capacity: Self.batchesAhead,
            produce: { handOff in
                do {
                    var batch: [Record] = []
                    batch.reserveCapacity(Self.batchRecords)
                    try Self.merge(runs, reader, key: key) { record in
                        batch.append(record)
                        if batch.count == Self.batchRecords {
                            guard handOff.put(.batch(batch)) else { throw MergeAbandoned() }
                            batch = []
                            batch.reserveCapacity(Self.batchRecords)
                        }
                    }
                    if !batch.isEmpty { guard handOff.put(.batch(batch)) else { return } }
                    handOff.put(.end)
                } catch is MergeAbandoned {
                    // The caller stopped taking records: nothing more to do.
                } catch {
                    handOff.put(.failed(error))
                }
            },
            consume: { handOff in
                while let message = handOff.take() {
                    switch message {
                    case .batch(let records):
                        for record in records { try body(record) }
                    case .end:
                        return
                    case .failed(let error):
                        throw error
                    }
                }
            })
    }

    /// Records per batch handed from the merging thread to the caller, and batches the merge
    /// may run ahead (a few hundred KiB in all).
    static var batchRecords: Int { max(1, 131_072 / MemoryLayout<Record>.stride) }
    static var batchesAhead: Int { 2 }

    /// The k-way merge itself, on the calling thread (the merging thread's body).
    private static func merge(
        _ runs: [(start: Int, count: Int)], _ reader: RunReader, key: (Record) -> MergeKey,
        _ body: (Record) throws -> Void
    ) throws {
        var cursors = runs.map { Cursor(start: $0.start, end: $0.start + $0.count) }
        var heap: [HeapEntry] = []
        heap.reserveCapacity(cursors.count)
        for index in cursors.indices {
            try reader.refill(&cursors[index])
            if let first = cursors[index].buffer.first { heap.append(HeapEntry(key: key(first), run: index)) }
        }
        for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) {
            siftDown(&heap, from: index)
        }
        while let top = heap.first {
            let run = top.run
            try body(cursors[run].buffer[cursors[run].position])
            cursors[run].position += 1
            if cursors[run].position == cursors[run].buffer.count { try reader.refill(&cursors[run]) }
            if cursors[run].buffer.isEmpty {
                let last = heap.removeLast()
                if heap.isEmpty { break }
                heap[0] = last
            } else {
                heap[0].key = key(cursors[run].buffer[cursors[run].position])
            }
            siftDown(&heap, from: 0)
        }
    }

    /// What the merging thread hands over.
    private enum MergeMessage<Element: Sendable>: Sendable {
        case batch([Element])
        case end
        case failed(any Error & Sendable)
    }

    /// Thrown on the merging thread when the caller closed the hand-off.
    private struct MergeAbandoned: Error {}

    /// A run's front record in the merge: its key and the run's number (ties go to the
    /// earlier run).
    private struct HeapEntry {
        var key: MergeKey
        var run: Int

        @inline(__always)
        static func precedes(_ a: HeapEntry, _ b: HeapEntry) -> Bool {
            a.key < b.key || (a.key == b.key && a.run < b.run)
        }
    }

    /// Restores the heap order below `start` (a binary min-heap by ``HeapEntry/precedes``).
    private static func siftDown(_ heap: inout [HeapEntry], from start: Int) {
        heap.withUnsafeMutableBufferPointer { entries in
            let count = entries.count
            guard start < count else { return }
            let moving = entries[start]
            var parent = start
            while true {
                let left = 2 * parent + 1
                if left >= count { break }
                var child = left
                if left + 1 < count, HeapEntry.precedes(entries[left + 1], entries[left]) { child = left + 1 }
                if !HeapEntry.precedes(entries[child], moving) { break }
                entries[parent] = entries[child]
                parent = child
            }
            entries[parent] = moving
        }
    }

    private struct Cursor {
        var next: Int
        let end: Int
        var buffer: [Record] = []
        var position = 0

        init(start: Int, end: Int) {
            next = start
            self.end = end
        }
    }

    /// Reads the runs back (from any one thread at a time: `pread` keeps no file offset).
    private struct RunReader: Sendable {
        let fd: Int32
        let directory: String

        /// Reads the run's next records into its buffer (empty at the end of the run).
        func refill(_ cursor: inout Cursor) throws {
            let count = min(SortedRuns.bufferRecords, cursor.end - cursor.next)
            cursor.position = 0
            guard count > 0 else {
                cursor.buffer = []
                return
            }
            let stride = MemoryLayout<Record>.stride
            let first = cursor.next
            let fd = self.fd
            cursor.buffer = try [Record](unsafeUninitializedCapacity: count) { records, initialized in
                guard let base = UnsafeMutableRawBufferPointer(records).baseAddress else { return }
                var offset = 0
                while offset < count * stride {
                    let n = pread(fd, base + offset, count * stride - offset, off_t(first * stride + offset))
                    if n < 0 && errno == EINTR { continue }
                    // n == 0: the file is shorter than written (EIO stands for it).
                    guard n > 0 else {
                        throw GoldError.scratchFile(
                            directory: directory, operation: "read", errno: n < 0 ? errno : EIO)
                    }
                    offset += n
                }
                initialized = count
            }
            cursor.next += count
        }
    }
}

/// A record's place in a ``SortedRuns`` merge: `high`, then `low`, as unsigned numbers.
struct MergeKey: Comparable, Sendable {
    var high: UInt64
    var low: UInt64

    init(high: UInt64, low: UInt64 = 0) {
        self.high = high
        self.low = low
    }

    @inline(__always)
    static func < (a: MergeKey, b: MergeKey) -> Bool {
        a.high != b.high ? a.high < b.high : a.low < b.low
    }

    /// A signed number as an unsigned one of the same order (Int64.min → 0).
    @inline(__always)
    static func ordered(_ value: Int64) -> UInt64 { UInt64(bitPattern: value) ^ (1 << 63) }

    /// Two non-negative numbers (ranks) as one, the first the more significant; a negative
    /// one (never given) would sort after every non-negative one, not trap.
    @inline(__always)
    static func pack(_ first: Int32, _ second: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: first)) << 32 | UInt64(UInt32(bitPattern: second))
    }
}
