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
/// The file is unlinked as soon as it is created: nothing is left behind by a crash. Used on
/// the writer's thread only: it appends a run as it writes each spill, then merges.
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

    /// Calls `body` with every record of every run in the order `precedes` defines (each run
    /// must be sorted in it), records of equal key one after the other.
    func merge(by precedes: (Record, Record) -> Bool, _ body: (Record) throws -> Void) throws {
        var cursors = runs.map { Cursor(start: $0.start, end: $0.start + $0.count) }
        for index in cursors.indices { try refill(&cursors[index]) }
        // A binary min-heap of run indices, ordered by each run's current record.
        var heap = cursors.indices.filter { !cursors[$0].buffer.isEmpty }
        func less(_ a: Int, _ b: Int) -> Bool {
            let x = cursors[a].buffer[cursors[a].position]
            let y = cursors[b].buffer[cursors[b].position]
            return precedes(x, y) || (!precedes(y, x) && a < b)
        }
        func siftDown(_ start: Int) {
            var parent = start
            while true {
                let left = 2 * parent + 1
                if left >= heap.count { return }
                var child = left
                if left + 1 < heap.count, less(heap[left + 1], heap[left]) { child = left + 1 }
                if !less(heap[child], heap[parent]) { return }
                heap.swapAt(child, parent)
                parent = child
            }
        }
        for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
        while let top = heap.first {
            try body(cursors[top].buffer[cursors[top].position])
            cursors[top].position += 1
            if cursors[top].position == cursors[top].buffer.count { try refill(&cursors[top]) }
            if cursors[top].buffer.isEmpty {
                heap[0] = heap[heap.count - 1]
                heap.removeLast()
            }
            siftDown(0)
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

    /// Reads the run's next records into its buffer (empty at the end of the run).
    private func refill(_ cursor: inout Cursor) throws {
        let count = min(Self.bufferRecords, cursor.end - cursor.next)
        cursor.position = 0
        guard count > 0 else {
            cursor.buffer = []
            return
        }
        let stride = MemoryLayout<Record>.stride
        let first = cursor.next
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
