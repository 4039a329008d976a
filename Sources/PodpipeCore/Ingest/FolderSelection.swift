import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Which names of the drop folder are candidates, on top of their kinds (`watch.include`,
/// `watch.exclude`): a name of an ingestable kind is kept when it matches one include glob
/// (or there is none) and no exclude glob. Globs are fnmatch(3) patterns on the file name
/// (`*`, `?`, `[…]`; a leading dot is matched only by a dot in the pattern). A name left
/// out is shown by `status` with the glob that left it out.
///
/// With `recursive` (`watch.recursive`), sub-folders are listed too (date-partitioned
/// drops: `2024/05/01/events-….ndjson`), and a file's name is its path relative to the drop
/// folder. Never through a symbolic link (no loop, never out of the tree), never into a
/// hidden folder, `skippedFolders` (the after-commit folders) or deeper than ``maxDepth``.
struct FolderSelection: Sendable, Equatable {
    var include: [String] = []
    var exclude: [String] = []
    var recursive = false
    /// Absolute paths never descended into (`ingest.processed_dir`, `ingest.rejected_dir`).
    var skippedFolders: [String] = []

    /// The deepest sub-folder listed (`a/b/…`, 16 levels): a date partition needs three.
    static let maxDepth = 16

    init(
        include: [String] = [], exclude: [String] = [], recursive: Bool = false, skippedFolders: [String] = []
    ) {
        self.include = include
        self.exclude = exclude
        self.recursive = recursive
        self.skippedFolders = skippedFolders
    }

    /// nil when the sub-folder `name` (at `path`, `depth` levels down) is listed, else why not.
    func reasonNotToDescend(_ name: String, path: String, depth: Int) -> String? {
        if name.hasPrefix(".") { return "hidden folder (name starts with a dot): not listed" }
        if skippedFolders.contains(where: {
            ($0 as NSString).standardizingPath == (path as NSString).standardizingPath
        }) {
            return "the processed or rejected folder: not listed"
        }
        if depth > Self.maxDepth { return "folder deeper than \(Self.maxDepth) levels: not listed" }
        return nil
    }

    /// nil when `name` is selected, else the reason it is ignored.
    func reasonToIgnore(_ name: String) -> String? {
        if !include.isEmpty, !include.contains(where: { Self.matches($0, name) }) {
            return "matches no watch.include glob (\(include.joined(separator: ", "))): not read"
        }
        if let glob = exclude.first(where: { Self.matches($0, name) }) {
            return "excluded by the watch.exclude glob \(glob): not read"
        }
        return nil
    }

    /// fnmatch(3) with FNM_PERIOD: `*` never matches a leading dot.
    static func matches(_ glob: String, _ name: String) -> Bool {
        fnmatch(glob, name, FNM_PERIOD) == 0
    }

    /// Whether `path` is `folder` or inside it, by their standardized absolute paths (the
    /// configuration check; the start-up check also resolves symbolic links).
    static func isWithin(_ path: String, _ folder: String) -> Bool {
        let a = (path as NSString).standardizingPath
        let b = (folder as NSString).standardizingPath
        if a == b { return true }
        return a.hasPrefix(b.hasSuffix("/") ? b : b + "/")
    }
}
