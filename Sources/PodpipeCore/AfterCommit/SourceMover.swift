import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A file operation of the after-commit stage that failed, with the path and the system's
/// reason. The file stays where it is and is tried again at the next pass.
struct MoveError: Error, CustomStringConvertible, Equatable {
    var operation: String
    var path: String
    var code: Int32

    var description: String {
        "cannot \(operation) \(path): \(String(cString: strerror(code)))"
            + (code == EXDEV ? " (another file system: put the folder on the drop folder's)" : "")
    }
}

/// The after-commit stage's file operations, on the bytes of paths (a name need not be
/// UTF-8). A move is one rename(2) that never replaces an existing name.
enum SourceMover {
    /// The most suffixes tried for a name already taken in the target folder.
    static let maxSuffix = 9_999

    /// Moves the directory entry `source` to `folder/relative`; when that name is taken,
    /// to `relative` with `.1`, `.2`, … inserted before its last `extensionLength` bytes
    /// (the kind's extension: `events.1.ndjson`). Sub-folders of `relative` are created.
    /// Returns the path the file now has.
    static func move(_ source: [UInt8], into folder: String, relative: [UInt8], extensionLength: Int)
        throws(MoveError) -> [UInt8]
    {
        let base = Array(folder.utf8) + [UInt8(ascii: "/")]
        if let slash = relative.lastIndex(of: UInt8(ascii: "/")) {
            try makeFolders(base + relative[..<slash])
        }
        for n in 0...maxSuffix {
            let target = base + suffixed(relative, n, extensionLength: extensionLength)
            let code = renameNoReplace(source, target)
            if code == 0 { return target }
            if code != EEXIST {
                throw MoveError(operation: "move", path: DropFolder.displayName(source), code: code)
            }
        }
        throw MoveError(operation: "move", path: DropFolder.displayName(source), code: EEXIST)
    }

    /// Unlinks the directory entry `source` (a symbolic link itself, not its target).
    static func delete(_ source: [UInt8]) throws(MoveError) {
        guard unlink(cString(source)) == 0 else {
            throw MoveError(operation: "delete", path: DropFolder.displayName(source), code: errno)
        }
    }

    /// `relative` with `.n` inserted before its last `extensionLength` bytes (n = 0: as is).
    static func suffixed(_ relative: [UInt8], _ n: Int, extensionLength: Int) -> [UInt8] {
        guard n > 0 else { return relative }
        let cut = relative.count - min(max(0, extensionLength), relative.count)
        return Array(relative[..<cut]) + Array(".\(n)".utf8) + Array(relative[cut...])
    }

    /// mkdir -p of `path` (bytes).
    private static func makeFolders(_ path: [UInt8]) throws(MoveError) {
        let slash = UInt8(ascii: "/")
        var prefix: [UInt8] = []
        func make() throws(MoveError) {
            if mkdir(cString(prefix), 0o777) != 0 && errno != EEXIST {
                throw MoveError(
                    operation: "create the folder", path: DropFolder.displayName(prefix), code: errno)
            }
        }
        for byte in path {
            if byte == slash, let last = prefix.last, last != slash { try make() }
            prefix.append(byte)
        }
        if !prefix.isEmpty { try make() }
    }

    /// rename(2) that fails with EEXIST instead of replacing `target`: renameat2 with
    /// RENAME_NOREPLACE (looked up at run time: Swift's Glibc module does not declare it);
    /// on a file system without that flag, a look before the rename (only podpipe writes
    /// its target folders). Returns 0 or the errno.
    static func renameNoReplace(_ source: [UInt8], _ target: [UInt8]) -> Int32 {
        let from = cString(source)
        let to = cString(target)
        if let renameat2 = renameat2Function {
            if renameat2(AT_FDCWD, from, AT_FDCWD, to, 1 /* RENAME_NOREPLACE */) == 0 { return 0 }
            let code = errno
            guard code == EINVAL || code == ENOSYS else { return code }
        }
        var st = stat()
        if lstat(to, &st) == 0 { return EEXIST }
        return rename(from, to) == 0 ? 0 : errno
    }

    private typealias RenameAt2 =
        @convention(c) (
            Int32, UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, UInt32
        ) -> Int32

    /// glibc's renameat2 (2.28 and later), nil when the C library has none.
    private static let renameat2Function: RenameAt2? = {
        guard let symbol = dlsym(nil, "renameat2") else { return nil }
        return unsafeBitCast(symbol, to: RenameAt2.self)
    }()

    private static func cString(_ bytes: [UInt8]) -> [CChar] {
        bytes.map { CChar(bitPattern: $0) } + [0]
    }
}
