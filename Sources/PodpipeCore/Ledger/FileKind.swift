/// What a file in the drop folder is, decided from its name alone (SPEC §2).
public enum FileKind: String, Sendable, CaseIterable, Codable {
    case events
    case episodes
    case users
}

/// The decision for one directory entry's name.
enum FileClassification: Sendable, Equatable {
    case ingest(FileKind, gzip: Bool)
    case ignored(reason: String)
}

/// Classifies names: event logs `*.json`, `*.jsonl`, `*.ndjson` (optionally `.gz`),
/// reference exports `episodes*.csv` and `users*.csv`; dotfiles, temporary names
/// (`*.tmp`, `*.part`, `*.swp`, `*~`) and anything else are ignored with a reason.
/// Extensions and the `episodes`/`users` prefixes match case-insensitively.
enum FileClassifier {
    static func classify(_ name: String) -> FileClassification {
        if name.hasPrefix(".") {
            return .ignored(reason: "hidden file (name starts with a dot)")
        }
        let lower = name.lowercased()
        for suffix in [".tmp", ".part", ".swp", "~"] where lower.hasSuffix(suffix) {
            return .ignored(reason: "temporary file (\(suffix)): waiting for the producer to rename it")
        }
        var base = lower
        var gzip = false
        if base.hasSuffix(".gz") {
            gzip = true
            base.removeLast(3)
        }
        for ext in [".json", ".jsonl", ".ndjson"] where base.hasSuffix(ext) {
            return .ingest(.events, gzip: gzip)
        }
        if base.hasSuffix(".csv") && !gzip {
            if base.hasPrefix("episodes") { return .ingest(.episodes, gzip: false) }
            if base.hasPrefix("users") { return .ingest(.users, gzip: false) }
            return .ignored(
                reason: "CSV name matches no reference kind (expected episodes*.csv or users*.csv)")
        }
        return .ignored(
            reason: "name matches no input kind (*.json, *.jsonl, *.ndjson[.gz], episodes*.csv, users*.csv)")
    }

    /// The number of bytes at the end of `name` that make it its kind (`.ndjson.gz`,
    /// `.csv`; 0 when none), so that a suffix inserted before them keeps the name
    /// recognisable: `events-7.1.ndjson.gz` is still an event log. The same extensions as
    /// ``classify(_:)``.
    static func kindExtensionLength(_ name: String) -> Int {
        var base = name.lowercased()
        var length = 0
        if base.hasSuffix(".gz") {
            length = 3
            base.removeLast(3)
        }
        for ext in [".json", ".jsonl", ".ndjson", ".csv"] where base.hasSuffix(ext) {
            return length + ext.utf8.count
        }
        return length
    }
}
