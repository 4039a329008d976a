import CZlib
import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reads a file's bytes in fixed-size chunks, hashing every byte read (the file's
/// identity is the SHA-256 of its bytes, computed in the same pass that parses it) and,
/// for `.gz` files, inflating the stream. Memory stays bounded by the chunk size.
///
/// Hand-written over `read(2)` and zlib rather than FileHandle: we need the raw file
/// descriptor (O_NOFOLLOW, O_NONBLOCK so a FIFO never hangs, fstat for truncation checks)
/// and streaming inflate; no Swift package here offers gzip without pulling in SwiftNIO.
final class ChunkSource: @unchecked Sendable {
    let path: String
    let gzip: Bool
    private let fd: Int32
    private var hasher = SHA256()
    private(set) var bytesRead: Int64 = 0
    private var raw: [UInt8]
    private var zstream = z_stream()
    private var inflating = false
    private var streamEnded = false
    private var fileEOF = false
    private var rawAvailable = 0
    private var rawOffset = 0
    let chunkSize: Int

    /// Opens `path` for reading without following a final symlink and without blocking on
    /// a FIFO. Fails with `ReadError` when the path is not a regular file.
    /// `rawPath`, when given, is opened instead of `path` (a name that is not UTF-8).
    init(path: String, rawPath: [UInt8]? = nil, gzip: Bool, chunkSize: Int = 1 << 20) throws {
        self.path = path
        self.gzip = gzip
        self.chunkSize = chunkSize
        self.raw = [UInt8](repeating: 0, count: chunkSize)
        let cPath = (rawPath ?? Array(path.utf8)).map { CChar(bitPattern: $0) } + [0]
        let fd = open(cPath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 {
            throw ReadError.open(path: path, errno: errno)
        }
        var st = stat()
        if fstat(fd, &st) != 0 || (st.st_mode & S_IFMT) != S_IFREG {
            close(fd)
            throw ReadError.notARegularFile(path: path)
        }
        // Back to blocking reads for a regular file.
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
        self.fd = fd
        if gzip {
            // windowBits 15 + 32: zlib detects the gzip header itself.
            let rc = inflateInit2_(
                &zstream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            guard rc == Z_OK else {
                close(fd)
                throw ReadError.gzip(path: path, message: "zlib inflateInit failed (\(rc))")
            }
            inflating = true
        }
    }

    deinit {
        if inflating { inflateEnd(&zstream) }
        close(fd)
    }

    /// The current size of the open file (to detect truncation while reading).
    func currentSize() -> Int64 {
        var st = stat()
        return fstat(fd, &st) == 0 ? Int64(st.st_size) : -1
    }

    /// The SHA-256 of all bytes read so far, as lower-case hex.
    func digestHex() -> String {
        hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// Reads up to `buffer.count` file bytes into `buffer`, hashing them.
    private func readFile(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let n = read(fd, base, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw ReadError.io(path: path, errno: errno)
            }
            if n > 0 {
                bytesRead += Int64(n)
                hasher.update(bufferPointer: UnsafeRawBufferPointer(start: base, count: n))
            }
            return n
        }
    }

    fileprivate func readRaw() throws -> Int {
        try raw.withUnsafeMutableBytes { (buffer) throws -> Int in
            try readFile(into: buffer)
        }
    }

    /// Fills `output` with the next decoded bytes; returns the count, 0 at the end.
    func next(into output: UnsafeMutableRawBufferPointer) throws -> Int {
        gzip ? try inflateNext(into: output) : try readFile(into: output)
    }

    private func inflateNext(into output: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let outBase = output.baseAddress else { return 0 }
        while true {
            if streamEnded {
                // Concatenated gzip members (as `cat a.gz b.gz` makes) are valid gzip.
                if rawOffset < rawAvailable || !fileEOF {
                    if rawOffset >= rawAvailable {
                        rawAvailable = try readRaw()
                        rawOffset = 0
                        if rawAvailable == 0 {
                            fileEOF = true
                            return 0
                        }
                    }
                    inflateReset(&zstream)
                    streamEnded = false
                } else {
                    return 0
                }
            }
            if rawOffset >= rawAvailable && !fileEOF {
                rawAvailable = try readRaw()
                rawOffset = 0
                if rawAvailable == 0 { fileEOF = true }
            }
            if fileEOF && rawOffset >= rawAvailable {
                if bytesRead == 0 { return 0 }
                throw ReadError.gzip(
                    path: path,
                    message:
                        "gzip stream ends early (truncated file): the compressed data stops at byte \(bytesRead)"
                )
            }
            let produced: Int = try raw.withUnsafeMutableBytes { (rawBuf) throws -> Int in
                zstream.next_in = rawBuf.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    .advanced(by: rawOffset)
                zstream.avail_in = uInt(rawAvailable - rawOffset)
                zstream.next_out = outBase.assumingMemoryBound(to: Bytef.self)
                zstream.avail_out = uInt(output.count)
                let rc = inflate(&zstream, Z_NO_FLUSH)
                let consumed = (rawAvailable - rawOffset) - Int(zstream.avail_in)
                rawOffset += consumed
                let out = output.count - Int(zstream.avail_out)
                switch rc {
                case Z_OK, Z_BUF_ERROR:
                    break
                case Z_STREAM_END:
                    streamEnded = true
                default:
                    let message = zstream.msg.map { String(cString: $0) } ?? "code \(rc)"
                    throw ReadError.gzip(
                        path: path,
                        message: "not a valid gzip stream (\(message)) near compressed byte \(bytesRead)")
                }
                return out
            }
            if produced > 0 { return produced }
        }
    }
}

/// Why a file could not be read. Carries the path and what to do.
enum ReadError: Error, CustomStringConvertible, Equatable {
    case open(path: String, errno: Int32)
    case notARegularFile(path: String)
    case io(path: String, errno: Int32)
    case gzip(path: String, message: String)
    case changedWhileReading(path: String, expected: Int64, now: Int64)
    /// A symbolic link in the drop folder that resolves to `target`, outside the folder.
    case linkLeavesFolder(path: String, target: String)

    var description: String {
        switch self {
        case .open(let path, let code):
            if code == ELOOP {
                return
                    "\(path): is a symbolic link; podpipe does not follow links in the drop folder (copy or move the real file in)"
            }
            return "\(path): cannot open: \(String(cString: strerror(code))) (check the file's permissions)"
        case .notARegularFile(let path):
            return "\(path): not a regular file (directory, FIFO or device); only regular files are ingested"
        case .io(let path, let code):
            return "\(path): read error: \(String(cString: strerror(code))); the file will be retried"
        case .gzip(let path, let message):
            return "\(path): \(message)"
        case .changedWhileReading(let path, let expected, let now):
            return
                "\(path): the file changed while it was read (\(expected) bytes read, now \(now)); it will be read again once it is stable"
        case .linkLeavesFolder(let path, let target):
            return
                "\(path): symbolic link to a path outside the drop folder (\(target)); not read (copy or move the real file into the folder)"
        }
    }

    /// Whether retrying later can help (I/O) or the file itself is bad (gzip, not a file).
    var isPermanent: Bool {
        switch self {
        case .gzip, .notARegularFile, .linkLeavesFolder: true
        case .open(_, let code): code == ELOOP
        case .io, .changedWhileReading: false
        }
    }
}

extension ChunkSource {
    /// Reads the rest of the file without decoding it, so that the digest covers every
    /// byte even when parsing stopped early (a rejected file still gets its identity).
    func drain() throws {
        while try readRaw() > 0 {}
    }
}
