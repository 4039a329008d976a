import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A file in the drop folder that podpipe would ingest.
struct Candidate: Sendable, Equatable {
    var name: String
    var path: String
    var kind: FileKind
    var gzip: Bool
    var size: Int64
    var mtimeNs: Int64
    /// The file's status-change time (ctime) and inode: with size and modification time,
    /// what tells the ledger that the file may hold new bytes (0: not known).
    var changeNs: Int64 = 0
    var inode: Int64 = 0
    /// The path's bytes when the name is not valid UTF-8 (`name` and `path` then show the
    /// bad bytes as `\xNN`, and the file is opened by these bytes).
    var rawPath: [UInt8]? = nil
    /// Set for a symbolic link that resolves to a path outside the drop folder: that path
    /// (for the message). Such a candidate is never opened: the ingest records it
    /// `rejected` (``ReadError/linkLeavesFolder(path:target:)``), once per version of the
    /// link (its own size and modification time, not its target's).
    var linkLeavingFolder: String? = nil
    /// For a symbolic link followed inside the folder (`path` is then its target): the
    /// bytes of the link's own path, the entry the after-commit stage moves.
    var entryPath: [UInt8]? = nil

    /// The bytes of the directory entry's own path (the link itself for a symbolic link).
    var entryBytes: [UInt8] { entryPath ?? rawPath ?? Array(path.utf8) }
}

/// One pass over the drop folder's entries: what to ingest and what is ignored (and why).
struct FolderListing: Sendable {
    var candidates: [Candidate]
    var ignored: [(name: String, reason: String)]
}

/// Lists the drop folder (no recursion: sub-folders are ignored, which keeps a
/// `processed/` or `rejected/` folder placed outside it, or inside, out of the way).
enum DropFolder {
    /// The reason shown for the database's own files found in the folder.
    static let databaseFileReason =
        "the podpipe database itself (or its WAL, shared-memory, journal or lock file): never ingested"

    /// - Parameter database: the database path: its file and companions (``DatabaseFile``)
    ///   are never candidates, whatever their names here (a hard or symbolic link too).
    /// - Parameter selection: `watch.include` / `watch.exclude`: names of a kind they leave
    ///   out are ignored, with the glob as the reason.
    static func list(
        _ folder: String, database: String? = nil, selection: FolderSelection = FolderSelection()
    ) throws -> FolderListing {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory),
            isDirectory.boolValue
        else { throw PipelineError.dropFolderMissing(path: folder) }
        var candidates: [Candidate] = []
        var ignored: [(String, String)] = []
        let realFolder = realPath(folder) ?? folder
        let databaseFiles = database.map(DatabaseFile.identities(of:)) ?? []
        let prefix = folder.hasSuffix("/") ? folder : folder + "/"
        // The folders to list, relative to the drop folder (`watch.recursive` adds its
        // sub-folders as they are found; the drop folder itself is the empty path).
        var folders: [[UInt8]] = [[]]
        while let relativeFolder = folders.popLast() {
            let listedPath = relativeFolder.isEmpty ? Array(folder.utf8) : Array(prefix.utf8) + relativeFolder
            guard let dir = opendir(listedPath.map { CChar(bitPattern: $0) } + [0]) else {
                if relativeFolder.isEmpty { throw PipelineError.dropFolderMissing(path: folder) }
                ignored.append(
                    (
                        displayName(relativeFolder),
                        "folder that cannot be listed: \(String(cString: strerror(errno)))"
                    ))
                continue
            }
            defer { closedir(dir) }
            while let entry = readdir(dir) {
                let baseName = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    Array(raw.prefix(while: { $0 != 0 }))
                }
                let base = displayName(baseName)
                if base == "." || base == ".." { continue }
                // The name is the path relative to the drop folder (`2024/05/01/events.ndjson`).
                let rawName =
                    relativeFolder.isEmpty ? baseName : relativeFolder + [UInt8(ascii: "/")] + baseName
                let name = displayName(rawName)
                let path = prefix + name
                // Names are bytes on Linux: keep them for opening when they are not UTF-8.
                let rawPath: [UInt8]? = name.utf8.elementsEqual(rawName) ? nil : Array(prefix.utf8) + rawName
                let cPath = (rawPath ?? Array(path.utf8)).map { CChar(bitPattern: $0) } + [0]
                if selection.recursive, Self.isDirectory(entry.pointee.d_type, cPath) {
                    // Never through a symbolic link (lstat, d_type): no loop, never out of the tree.
                    let depth = relativeFolder.filter { $0 == UInt8(ascii: "/") }.count + 1
                    if let reason = selection.reasonNotToDescend(base, path: path, depth: depth) {
                        ignored.append((name, reason))
                    } else {
                        folders.append(rawName)
                    }
                    continue
                }
                let kind: FileKind
                let gzip: Bool
                switch FileClassifier.classify(base) {
                case .ignored(let reason):
                    ignored.append((name, reason))
                    continue
                case .ingest(let k, let g):
                    kind = k
                    gzip = g
                }
                if let reason = selection.reasonToIgnore(base) {
                    ignored.append((name, reason))
                    continue
                }
                var st = stat()
                guard lstat(cPath, &st) == 0 else { continue }  // vanished since readdir
                let type = st.st_mode & S_IFMT
                if !databaseFiles.isEmpty {
                    var target = st
                    if (type != S_IFLNK || stat(cPath, &target) == 0),
                        databaseFiles.contains(FileIdentity(target))
                    {
                        ignored.append((name, databaseFileReason))
                        continue
                    }
                }
                if type == S_IFLNK {
                    // A link is followed only when it resolves to a regular file inside the
                    // folder. One that leaves the folder is never read (SPEC §7): it becomes a
                    // candidate that the ingest rejects without opening it, identified by the
                    // link itself (its size and modification time), so once per version.
                    guard let target = realPathBytes(cPath) else {
                        ignored.append((name, "dangling symbolic link (its target does not exist): not read"))
                        continue
                    }
                    guard target.starts(with: Array(realFolder.utf8) + [UInt8(ascii: "/")]) else {
                        var leaving = Candidate(
                            name: name, path: path, kind: kind, gzip: gzip, size: Int64(st.st_size),
                            mtimeNs: FileTime.modification(st), changeNs: FileTime.statusChange(st),
                            inode: Int64(bitPattern: UInt64(st.st_ino)),
                            rawPath: rawPath)
                        leaving.linkLeavingFolder = displayName(target)
                        candidates.append(leaving)
                        continue
                    }
                    let cTarget = target.map { CChar(bitPattern: $0) } + [0]
                    guard stat(cTarget, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                        ignored.append((name, "symbolic link to something that is not a regular file"))
                        continue
                    }
                    let targetText = displayName(target)
                    var followed = Candidate(
                        name: name, path: targetText, kind: kind, gzip: gzip, size: Int64(st.st_size),
                        mtimeNs: FileTime.modification(st), changeNs: FileTime.statusChange(st),
                        inode: Int64(bitPattern: UInt64(st.st_ino)),
                        rawPath: targetText.utf8.elementsEqual(target) ? nil : target)
                    followed.entryPath = Array(prefix.utf8) + rawName
                    candidates.append(followed)
                    continue
                }
                if type == S_IFDIR {
                    ignored.append((name, "directory"))
                    continue
                }
                if type != S_IFREG {
                    ignored.append((name, "not a regular file (FIFO, socket or device)"))
                    continue
                }
                candidates.append(
                    Candidate(
                        name: name, path: path, kind: kind, gzip: gzip, size: Int64(st.st_size),
                        mtimeNs: FileTime.modification(st), changeNs: FileTime.statusChange(st),
                        inode: Int64(bitPattern: UInt64(st.st_ino)),
                        rawPath: rawPath))
            }
        }
        // Oldest first: modification time, then name in byte order (SPEC §3).
        candidates.sort { a, b in
            if a.mtimeNs != b.mtimeNs { return a.mtimeNs < b.mtimeNs }
            return Array(a.name.utf8).lexicographicallyPrecedes(Array(b.name.utf8))
        }
        ignored.sort { $0.0 < $1.0 }
        return FolderListing(candidates: candidates, ignored: ignored)
    }

    /// Whether a directory entry is a directory (not a link to one): its d_type, or lstat
    /// when the file system does not fill it.
    private static func isDirectory(_ type: UInt8, _ path: [CChar]) -> Bool {
        if type == UInt8(DT_DIR) { return true }
        guard type == UInt8(DT_UNKNOWN) else { return false }
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// `candidate` with the size, times and inode its entry has now, stated as the listing
    /// states it (a link followed inside the folder: its target); nil when it is gone.
    static func restat(_ candidate: Candidate) -> Candidate? {
        var st = stat()
        let entry = candidate.entryBytes.map { CChar(bitPattern: $0) } + [0]
        let found = candidate.entryPath != nil ? stat(entry, &st) : lstat(entry, &st)
        guard found == 0 else { return nil }
        var fresh = candidate
        fresh.size = Int64(st.st_size)
        fresh.mtimeNs = FileTime.modification(st)
        fresh.changeNs = FileTime.statusChange(st)
        fresh.inode = Int64(bitPattern: UInt64(st.st_ino))
        return fresh
    }

    /// A file name for display and the ledger: the name itself when it is UTF-8, else
    /// its valid parts with each invalid byte written `\xNN`.
    static func displayName(_ raw: [UInt8]) -> String {
        if let text = String(validating: raw, as: UTF8.self) { return text }
        var out = ""
        var i = 0
        outer: while i < raw.count {
            for length in 1...4 where i + length <= raw.count {
                if let piece = String(validating: raw[i..<(i + length)], as: UTF8.self) {
                    out += piece
                    i += length
                    continue outer
                }
            }
            out += "\\x" + String(raw[i], radix: 16, uppercase: false).leftPadded(to: 2)
            i += 1
        }
        return out
    }

    /// The resolved path's bytes (a name need not be UTF-8), nil when it does not resolve.
    static func realPathBytes(_ path: [CChar]) -> [UInt8]? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return Array(UnsafeRawBufferPointer(start: resolved, count: strlen(resolved)))
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
