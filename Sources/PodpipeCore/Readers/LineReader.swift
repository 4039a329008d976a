#if canImport(Glibc)
    import Glibc
#endif

/// Splits a `ChunkSource` into physical lines, streaming, in bounded memory.
///
/// Hand-written (not `String.split` or `FileHandle.bytes.lines`): this is the ingest hot
/// path: memchr over a reused buffer is orders of magnitude faster than per-line `String`s
/// (doc/performance.md). Lines are handed out as views into the buffer, valid only
/// during the callback. A UTF-8 BOM at the start of the stream and a CR before LF are
/// dropped; a last line without newline is still a line. A line longer than
/// `maxLineBytes` is not buffered whole: the callback sees its first `maxLineBytes` bytes
/// with `truncated == true`, and the rest is skipped.
struct LineReader {
    let maxLineBytes: Int

    init(maxLineBytes: Int = 32 << 20) {
        self.maxLineBytes = maxLineBytes
    }

    /// Calls `body(lineNumber, bytes, truncated)` for every line (1-based numbers).
    func forEachLine(
        in source: ChunkSource,
        _ body: (Int, UnsafeRawBufferPointer, Bool) throws -> Void
    ) throws {
        var capacity = source.chunkSize * 2
        var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        var start = 0  // first byte of the current (incomplete) line
        var end = 0  // bytes valid in buffer
        var lineNumber = 0
        var firstLine = true
        var skippingOversized = false  // inside an oversized line, discarding until LF

        func emit(_ from: Int, _ to: Int, truncated: Bool) throws {
            var lo = from
            var hi = to
            if firstLine {
                firstLine = false
                if hi - lo >= 3, buffer[lo] == 0xEF, buffer[lo + 1] == 0xBB, buffer[lo + 2] == 0xBF {
                    lo += 3
                }
            }
            if !truncated, hi > lo, buffer[hi - 1] == 0x0D { hi -= 1 }
            lineNumber += 1
            try body(lineNumber, UnsafeRawBufferPointer(rebasing: buffer[lo..<hi]), truncated)
        }

        while true {
            // Make room: move the partial line to the front, grow if it fills the buffer.
            if end == capacity {
                if start > 0 {
                    let remaining = end - start
                    if remaining > 0, let base = buffer.baseAddress {
                        memmove(base, base + start, remaining)
                    }
                    start = 0
                    end = remaining
                } else {
                    let newCapacity = capacity * 2
                    let grown = UnsafeMutableRawBufferPointer.allocate(
                        byteCount: newCapacity, alignment: 16)
                    if let dst = grown.baseAddress, let src = buffer.baseAddress {
                        dst.copyMemory(from: src, byteCount: end)
                    }
                    buffer.deallocate()
                    buffer = grown
                    capacity = newCapacity
                }
            }
            let readCount = try source.next(
                into: UnsafeMutableRawBufferPointer(
                    rebasing: buffer[end..<min(capacity, end + source.chunkSize)]))
            if readCount == 0 { break }
            var scan = end
            end += readCount
            guard let base = buffer.baseAddress else { break }
            while scan < end {
                guard let hit = memchr(base + scan, 0x0A, end - scan) else { break }
                let newline = base.distance(to: UnsafeMutableRawPointer(hit))
                if skippingOversized {
                    skippingOversized = false
                } else {
                    try emit(start, newline, truncated: false)
                }
                start = newline + 1
                scan = start
            }
            if !skippingOversized && end - start > maxLineBytes {
                try emit(start, start + maxLineBytes, truncated: true)
                skippingOversized = true
            }
            if skippingOversized {
                // Discard the buffered part of the oversized line.
                start = end
            }
            if start == end {
                start = 0
                end = 0
            }
        }
        if end > start && !skippingOversized {
            try emit(start, end, truncated: false)
        }
    }
}
