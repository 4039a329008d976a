import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A file in the drop folder that podpipe would ingest.
public struct Candidate: Sendable, Equatable {
    public var name: String
    public var path: String
    public var kind: FileKind
    public var gzip: Bool
    public var size: Int64
    public var mtimeNs: Int64
}

/// One pass over the drop folder's entries: what to ingest and what is ignored (and why).
public struct FolderListing: Sendable {
    public var candidates: [Candidate]
    public var ignored: [(name: String, reason: String)]
}

/// Lists the drop folder (no recursion: sub-folders are ignored, which keeps a
/// `processed/` or `rejected/` folder placed outside it, or inside, out of the way).
public enum DropFolder {
    public static func list(_ folder: String) throws -> FolderListing {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory),
            isDirectory.boolValue
        else { throw PipelineError.dropFolderMissing(path: folder) }
        guard let dir = opendir(folder) else { throw PipelineError.dropFolderMissing(path: folder) }
        defer { closedir(dir) }
        var candidates: [Candidate] = []
        var ignored: [(String, String)] = []
        let realFolder = realPath(folder) ?? folder
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let path = folder.hasSuffix("/") ? folder + name : folder + "/" + name
            let kind: FileKind
            let gzip: Bool
            switch FileClassifier.classify(name) {
            case .ignored(let reason):
                ignored.append((name, reason))
                continue
            case .ingest(let k, let g):
                kind = k
                gzip = g
            }
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }  // vanished since readdir
            let type = st.st_mode & S_IFMT
            if type == S_IFLNK {
                // A link is followed only when it resolves to a regular file inside the
                // folder; one that leaves the folder is never read (SPEC §7).
                guard let target = realPath(path), target.hasPrefix(realFolder + "/") else {
                    ignored.append((name, "symbolic link pointing outside the drop folder: not read"))
                    continue
                }
                guard stat(target, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                    ignored.append((name, "symbolic link to something that is not a regular file"))
                    continue
                }
                candidates.append(
                    Candidate(
                        name: name, path: target, kind: kind, gzip: gzip, size: Int64(st.st_size),
                        mtimeNs: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)))
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
                    mtimeNs: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)))
        }
        // Oldest first: modification time, then name in byte order (SPEC §3).
        candidates.sort { a, b in
            if a.mtimeNs != b.mtimeNs { return a.mtimeNs < b.mtimeNs }
            return Array(a.name.utf8).lexicographicallyPrecedes(Array(b.name.utf8))
        }
        ignored.sort { $0.0 < $1.0 }
        return FolderListing(candidates: candidates, ignored: ignored)
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
