// Byte output without Foundation: a reusable raw buffer that lines are formatted into, and
// sinks that hand full buffers to a plain file or to a zlib gzip stream.

import CZlib

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Thin wrappers over the C library calls the generator needs, turning failures into
/// ``SampleDataError/io(path:operation:errno:)``.
enum SystemCalls {
    static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }

    static func currentErrno() -> Int32 { errno }

    /// `mkdir -p`.
    static func makeDirectories(_ path: String) throws(SampleDataError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += component
            if mkdir(prefix, 0o755) != 0 {
                let code = errno
                if code != EEXIST { throw .io(path: prefix, operation: "mkdir", errno: code) }
                var info = stat()
                if stat(prefix, &info) != 0 || (info.st_mode & S_IFMT) != S_IFDIR {
                    throw .io(path: prefix, operation: "mkdir", errno: ENOTDIR)
                }
            }
            prefix += "/"
        }
    }

    static func openForWriting(_ path: String) throws(SampleDataError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd < 0 { throw .io(path: path, operation: "open", errno: errno) }
        return fd
    }

    static func writeAll(
        fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int, path: String
    ) throws(SampleDataError) {
        var done = 0
        while done < count {
            let n = write(fd, pointer + done, count - done)
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw .io(path: path, operation: "write", errno: code)
            }
            done += n
        }
    }

    static func close(fd: Int32, path: String) throws(SampleDataError) {
        #if canImport(Darwin)
            let result = Darwin.close(fd)
        #elseif canImport(Musl)
            let result = Musl.close(fd)
        #else
            let result = Glibc.close(fd)
        #endif
        if result != 0 { throw .io(path: path, operation: "close", errno: errno) }
    }

    /// Sets access and modification time to `epochSeconds` (whole seconds).
    static func setModificationTime(_ path: String, epochSeconds: Int64) throws(SampleDataError) {
        var times = [timespec](repeating: timespec(), count: 2)
        for i in 0..<2 {
            times[i].tv_sec = Int(epochSeconds)
            times[i].tv_nsec = 0
        }
        if utimensat(AT_FDCWD, path, times, 0) != 0 {
            throw .io(path: path, operation: "utimensat", errno: errno)
        }
    }

    /// Reads a whole (small) file.
    static func readAll(_ path: String) throws(SampleDataError) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw .io(path: path, operation: "open", errno: errno) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                _ = try? close(fd: fd, path: path)
                throw .io(path: path, operation: "read", errno: code)
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        try close(fd: fd, path: path)
        return result
    }

    /// Writes `bytes` to `path` (created or truncated).
    static func writeFile(_ path: String, _ bytes: [UInt8]) throws(SampleDataError) {
        let fd = try openForWriting(path)
        let result = bytes.withUnsafeBytes { buffer -> Result<Void, SampleDataError> in
            guard let base = buffer.baseAddress else { return .success(()) }
            do throws(SampleDataError) {
                try writeAll(fd: fd, base, buffer.count, path: path)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        if case .failure(let error) = result {
            _ = try? close(fd: fd, path: path)
            throw error
        }
        try close(fd: fd, path: path)
    }

    static func rename(_ from: String, to: String) throws(SampleDataError) {
        #if canImport(Darwin)
            let result = Darwin.rename(from, to)
        #elseif canImport(Musl)
            let result = Musl.rename(from, to)
        #else
            let result = Glibc.rename(from, to)
        #endif
        if result != 0 { throw .io(path: to, operation: "rename", errno: errno) }
    }

    static func unlinkIfPresent(_ path: String) {
        _ = unlink(path)
    }
}

/// A fixed raw buffer that lines are formatted into. Callers flush it when `count` passes
/// `flushThreshold`; the slack above the threshold must exceed the longest line.
final class OutputBuffer {
    static let flushThreshold = 1 << 20
    static let slack = 1 << 16

    let base: UnsafeMutablePointer<UInt8>
    var count = 0

    init() {
        base = .allocate(capacity: OutputBuffer.flushThreshold + OutputBuffer.slack)
    }

    deinit { base.deallocate() }

    var needsFlush: Bool { count >= OutputBuffer.flushThreshold }

    @inline(__always)
    func byte(_ value: UInt8) {
        base[count] = value
        count += 1
    }

    @inline(__always)
    func ascii(_ text: StaticString) {
        text.withUTF8Buffer { buffer in
            if let source = buffer.baseAddress {
                (base + count).update(from: source, count: buffer.count)
            }
            count += buffer.count
        }
    }

    func string(_ text: String) {
        var copy = text
        copy.withUTF8 { buffer in
            if let source = buffer.baseAddress {
                (base + count).update(from: source, count: buffer.count)
            }
            count += buffer.count
        }
    }

    func bytes(_ values: [UInt8]) {
        values.withUnsafeBufferPointer { buffer in
            if let source = buffer.baseAddress {
                (base + count).update(from: source, count: buffer.count)
            }
            count += buffer.count
        }
    }

    /// Decimal digits of a non-negative number.
    @inline(__always)
    func unsigned(_ value: Int) {
        var length = 1
        var probe = value
        while probe >= 10 {
            probe /= 10
            length += 1
        }
        var n = value
        var position = count + length - 1
        repeat {
            base[position] = UInt8(truncatingIfNeeded: 48 + n % 10)
            n /= 10
            position -= 1
        } while n > 0
        count += length
    }

    @inline(__always)
    func signed(_ value: Int) {
        if value < 0 {
            byte(UInt8(ascii: "-"))
            unsigned(-value)
        } else {
            unsigned(value)
        }
    }

    @inline(__always)
    func twoDigits(_ value: Int) {
        base[count] = UInt8(truncatingIfNeeded: 48 + value / 10)
        base[count + 1] = UInt8(truncatingIfNeeded: 48 + value % 10)
        count += 2
    }

    @inline(__always)
    func fourDigits(_ value: Int) {
        twoDigits(value / 100 % 100)
        twoDigits(value % 100)
    }

    /// `YYYY-MM-DD` of a day number.
    @inline(__always)
    func day(_ days: Int) {
        let c = CivilTime.civilFromDays(days)
        fourDigits(c.year)
        byte(UInt8(ascii: "-"))
        twoDigits(c.month)
        byte(UInt8(ascii: "-"))
        twoDigits(c.day)
    }

    private var cachedDay = Int.min
    private var cachedDayText: (UInt64, UInt16) = (0, 0)

    /// `YYYY-MM-DD<sep>HH:MM:SS` of epoch seconds.
    @inline(__always)
    func dateTime(_ epoch: Int64, separator: UInt8 = UInt8(ascii: "T")) {
        let days = Int(CivilTime.floorDiv(epoch, CivilTime.secondsPerDay))
        let secs = Int(epoch - Int64(days) * CivilTime.secondsPerDay)
        if days != cachedDay {
            let start = count
            day(days)
            count = start
            cachedDayText = (
                UnsafeRawPointer(base + start).loadUnaligned(as: UInt64.self),
                UnsafeRawPointer(base + start + 8).loadUnaligned(as: UInt16.self)
            )
            cachedDay = days
        }
        UnsafeMutableRawPointer(base + count).storeBytes(of: cachedDayText.0, as: UInt64.self)
        UnsafeMutableRawPointer(base + count + 8).storeBytes(
            of: cachedDayText.1, as: UInt16.self)
        count += 10
        byte(separator)
        twoDigits(secs / 3600)
        byte(UInt8(ascii: ":"))
        twoDigits(secs / 60 % 60)
        byte(UInt8(ascii: ":"))
        twoDigits(secs % 60)
    }
}

/// Where full buffers go: a plain file, or a gzip stream (zlib, windowBits 31) into it.
final class FileSink {
    let path: String
    private var fd: Int32
    private var stream: UnsafeMutablePointer<z_stream>?
    private var header: UnsafeMutablePointer<gz_header>?
    private let compressed: UnsafeMutablePointer<UInt8>
    private let compressedCapacity = 1 << 18
    private(set) var bytesWritten = 0
    private var finished = false

    /// Opens (truncates) `path`. With `gzip`, bytes are deflated at `level` into a gzip
    /// member whose header carries no name, mtime 0 and OS "Unix", so the output does not
    /// depend on the host or the clock.
    init(path: String, gzip: Bool, level: Int32 = 6) throws(SampleDataError) {
        self.path = path
        self.compressed = .allocate(capacity: compressedCapacity)
        self.fd = -1
        do {
            fd = try SystemCalls.openForWriting(path)
        } catch {
            compressed.deallocate()
            throw error
        }
        guard gzip else { return }
        let strm = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        strm.initialize(to: z_stream())
        let status = deflateInit2_(
            strm, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
            Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            strm.deinitialize(count: 1)
            strm.deallocate()
            compressed.deallocate()
            _ = try? SystemCalls.close(fd: fd, path: path)
            throw .compression(path: path, operation: "deflateInit2", code: status)
        }
        let gzHeader = UnsafeMutablePointer<gz_header>.allocate(capacity: 1)
        gzHeader.initialize(to: gz_header())
        gzHeader.pointee.os = 3
        gzHeader.pointee.time = 0
        stream = strm
        header = gzHeader
        let headerStatus = deflateSetHeader(strm, gzHeader)
        if headerStatus != Z_OK {
            release()
            throw .compression(path: path, operation: "deflateSetHeader", code: headerStatus)
        }
    }

    deinit {
        release()
    }

    private func release() {
        if let strm = stream {
            deflateEnd(strm)
            strm.deinitialize(count: 1)
            strm.deallocate()
            stream = nil
        }
        if let gzHeader = header {
            gzHeader.deinitialize(count: 1)
            gzHeader.deallocate()
            header = nil
        }
        if fd >= 0 {
            _ = try? SystemCalls.close(fd: fd, path: path)
            fd = -1
        }
        if !finished {
            compressed.deallocate()
            finished = true
        }
    }

    /// Writes and empties `buffer`.
    func drain(_ buffer: OutputBuffer) throws(SampleDataError) {
        try write(UnsafeRawPointer(buffer.base), buffer.count)
        buffer.count = 0
    }

    func write(_ pointer: UnsafeRawPointer, _ count: Int) throws(SampleDataError) {
        guard count > 0 else { return }
        bytesWritten += count
        guard let strm = stream else {
            try SystemCalls.writeAll(fd: fd, pointer, count, path: path)
            return
        }
        strm.pointee.next_in = UnsafeMutablePointer(
            mutating: pointer.assumingMemoryBound(to: UInt8.self))
        strm.pointee.avail_in = UInt32(count)
        try pump(flush: Z_NO_FLUSH)
    }

    private func pump(flush: Int32) throws(SampleDataError) {
        guard let strm = stream else { return }
        while true {
            strm.pointee.next_out = compressed
            strm.pointee.avail_out = UInt32(compressedCapacity)
            let status = deflate(strm, flush)
            if status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR {
                throw .compression(path: path, operation: "deflate", code: status)
            }
            let produced = compressedCapacity - Int(strm.pointee.avail_out)
            if produced > 0 {
                try SystemCalls.writeAll(fd: fd, compressed, produced, path: path)
            }
            if flush == Z_FINISH {
                if status == Z_STREAM_END { return }
            } else if strm.pointee.avail_in == 0 && strm.pointee.avail_out != 0 {
                return
            }
        }
    }

    /// Finishes the gzip stream (if any) and closes the file.
    func close() throws(SampleDataError) {
        if stream != nil {
            strmInputCleared()
            try pump(flush: Z_FINISH)
        }
        let descriptor = fd
        fd = -1
        release()
        try SystemCalls.close(fd: descriptor, path: path)
    }

    private func strmInputCleared() {
        stream?.pointee.next_in = nil
        stream?.pointee.avail_in = 0
    }
}
