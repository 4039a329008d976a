import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Which names of the drop folder are candidates, on top of their kinds (`watch.include`,
/// `watch.exclude`): a name of an ingestable kind is kept when it matches one include glob
/// (or there is none) and no exclude glob. Globs are fnmatch(3) patterns on the file name
/// (`*`, `?`, `[…]`; a leading dot is matched only by a dot in the pattern). A name left
/// out is shown by `status` with the glob that left it out.
public struct FolderSelection: Sendable, Equatable {
    public var include: [String] = []
    public var exclude: [String] = []

    public init(include: [String] = [], exclude: [String] = []) {
        self.include = include
        self.exclude = exclude
    }

    /// nil when `name` is selected, else the reason it is ignored.
    public func reasonToIgnore(_ name: String) -> String? {
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
    public static func isWithin(_ path: String, _ folder: String) -> Bool {
        let a = (path as NSString).standardizingPath
        let b = (folder as NSString).standardizingPath
        if a == b { return true }
        return a.hasPrefix(b.hasSuffix("/") ? b : b + "/")
    }
}
