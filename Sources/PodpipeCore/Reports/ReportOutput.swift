import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Errors writing a report's file (`podpipectl report html --out FILE`).
enum ReportOutputError: Error, CustomStringConvertible, Equatable {
    /// The file (or its temporary sibling) could not be created, written or renamed.
    case cannotWrite(path: String, reason: String)

    var description: String {
        switch self {
        case .cannotWrite(let path, let reason):
            "cannot write the report to \(path): \(reason); choose a --out path in a folder you can write to"
        }
    }
}

/// Writes a report's file whole: a temporary file beside it, then a rename, so that a
/// reader (a browser, a web server) never sees half a page and an interrupted run leaves
/// the previous file. The file gets the usual 0666 less the umask.
public enum ReportOutput {
    /// Writes `text` (UTF-8) to `path`, replacing a file of that name.
    ///
    /// - Throws: ``ReportOutputError`` naming the path and the system's reason.
    public static func write(_ text: String, to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw failure(path, errno) }
        var bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeMutableBytes { buffer in
                Glibc.write(fd, buffer.baseAddress.map { $0 + written }, buffer.count - written)
            }
            if count < 0 {
                if errno == EINTR { continue }
                let code = errno
                close(fd)
                unlink(temporary)
                throw failure(path, code)
            }
            written += count
        }
        bytes.removeAll()
        guard close(fd) == 0 else {
            let code = errno
            unlink(temporary)
            throw failure(path, code)
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw failure(path, code)
        }
    }

    private static func failure(_ path: String, _ code: Int32) -> ReportOutputError {
        .cannotWrite(path: path, reason: String(cString: strerror(code)))
    }
}
