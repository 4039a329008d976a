import Foundation
import GRDB
import PodpipeRules

/// Filters of `podpipectl files` (nil = no filter).
public struct LedgerFilter: Sendable, Equatable {
    var state: LedgerState?
    var kind: FileKind?
    var name: String?
    /// ISO 8601 UTC text: rows that finished at or after it (see ``SinceParser``).
    var since: String?
    /// The most rows to return; nil = all.
    var limit: Int?

    public init(
        state: LedgerState? = nil, kind: FileKind? = nil, name: String? = nil,
        since: String? = nil, limit: Int? = nil
    ) {
        self.state = state
        self.kind = kind
        self.name = name
        self.since = since
        self.limit = limit
    }
}

/// Filters of `podpipectl rejects` (nil = no filter).
public struct RejectFilter: Sendable, Equatable {
    /// A file name as in the ledger (every version of that name).
    var file: String?
    /// One validation code; rows carrying it among others match.
    var code: String?
    /// The most rows to return; nil = all.
    var limit: Int?

    public init(file: String? = nil, code: String? = nil, limit: Int? = nil) {
        self.file = file
        self.code = code
        self.limit = limit
    }
}

/// Errors of the inspection commands, with what to do about them.
public enum InspectError: Error, CustomStringConvertible, Equatable {
    /// `--since` is neither a date, a timestamp nor a duration.
    case invalidSince(String)
    /// `--file` names no ledger row.
    case unknownFile(String, known: [String])
    /// `--code` is not a validation code of events or reference rows.
    case unknownCode(String)
    /// A file given to `validate` cannot be read.
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidSince(let text):
            "invalid --since \"\(text)\": expected a UTC date (2024-04-21), a timestamp (2024-04-21T09:00:00Z) or a duration back from now (90m, 12h, 7d)"
        case .unknownFile(let name, let known):
            "no file named \"\(name)\" in the ledger"
                + (known.isEmpty ? "" : " (did you mean \(known.joined(separator: ", "))?)")
                + "; `podpipectl files` lists the ledger"
        case .unknownCode(let code):
            "unknown validation code \"\(code)\"; known codes: "
                + (EventErrorCode.allCases.map(\.rawValue) + ReferenceErrorCode.allCases.map(\.rawValue))
                .uniqued().joined(separator: ", ")
        case .unreadable(let path, let reason):
            "cannot read \(path): \(reason)"
        }
    }
}

/// The read-only queries of `podpipectl files` and `podpipectl rejects`, written once over
/// the read seam (``QueryRunner``) for both engines. Every query is a `.sql` file under
/// `SQL/inspect/` (readable by analysts; PostgreSQL's beside it under
/// `SQL/postgres/inspect/`), run with bound parameters in the order its header gives.
public enum Inspect {
    /// The ledger, newest first (`SQL/inspect/files.sql`).
    public static func files(_ filter: LedgerFilter, in db: Database) throws -> ReportTable {
        try files(filter, SQLiteQueries(db: db))
    }

    /// ``files(_:in:)`` through the read seam (any engine).
    static func files(_ filter: LedgerFilter, _ store: some QueryRunner) throws -> ReportTable {
        try store.table(
            try store.resource("inspect", "files"),
            [
                text(filter.state?.rawValue), text(filter.kind?.rawValue), text(filter.name),
                text(filter.since), .integer(Int64(filter.limit ?? -1)),
            ])
    }

    /// Rejected rows, newest file first, then line (`SQL/inspect/rejects.sql`).
    ///
    /// - Throws: ``InspectError/unknownFile(_:known:)`` when `filter.file` names no ledger
    ///   row, ``InspectError/unknownCode(_:)`` for a code that does not exist.
    public static func rejects(_ filter: RejectFilter, in db: Database) throws -> ReportTable {
        try rejects(filter, SQLiteQueries(db: db))
    }

    /// ``rejects(_:in:)`` through the read seam (any engine).
    static func rejects(_ filter: RejectFilter, _ store: some QueryRunner) throws -> ReportTable {
        try check(filter, store)
        return try store.table(
            try store.resource("inspect", "rejects"),
            [text(filter.file), text(filter.code), .integer(Int64(filter.limit ?? -1))])
    }

    /// Rejected rows counted by (kind, code) and by file (`rejects_by_code.sql`,
    /// `rejects_by_file.sql`).
    public static func rejectSummary(_ filter: RejectFilter, in db: Database) throws
        -> (byCode: ReportTable, byFile: ReportTable)
    {
        try rejectSummary(filter, SQLiteQueries(db: db))
    }

    /// ``rejectSummary(_:in:)`` through the read seam (any engine).
    static func rejectSummary(_ filter: RejectFilter, _ store: some QueryRunner) throws
        -> (byCode: ReportTable, byFile: ReportTable)
    {
        try check(filter, store)
        let parameters: [ReportValue] = [text(filter.file), text(filter.code)]
        let byCode = try store.table(try store.resource("inspect", "rejects_by_code"), parameters)
        let byFile = try store.table(try store.resource("inspect", "rejects_by_file"), parameters)
        return (byCode, byFile)
    }

    /// Every validation code, events and reference rows.
    public static var knownCodes: Set<String> {
        Set(EventErrorCode.allCases.map(\.rawValue) + ReferenceErrorCode.allCases.map(\.rawValue))
    }

    /// The distinct file names of the ledger, in byte order (for shell completion and
    /// suggestions), on any engine.
    static func fileNames(_ store: some QueryRunner) throws -> [String] {
        try store.table("SELECT DISTINCT name FROM ingest_file ORDER BY name", []).rows.compactMap {
            $0.first?.stringValue
        }
    }

    /// A filter's text as a parameter: NULL (no filter) when absent.
    private static func text(_ value: String?) -> ReportValue {
        value.map { .text($0) } ?? .null
    }

    /// Refuses a code that does not exist, and a file name that is not in the ledger (with
    /// the ledger's names that look like it).
    static func check(_ filter: RejectFilter, _ store: some QueryRunner) throws {
        if let code = filter.code, !knownCodes.contains(code) {
            throw InspectError.unknownCode(code)
        }
        if let file = filter.file, try !Ledger.hasRow(named: file, store) {
            throw InspectError.unknownFile(file, known: try suggestions(for: file, store))
        }
    }

    /// Ledger names that contain `name` or that `name` contains (case-insensitive), at most
    /// 5, on any engine.
    static func suggestions(for name: String, _ store: some QueryRunner) throws -> [String] {
        suggestions(for: name, among: try fileNames(store))
    }

    /// Of `names` (in order), those that contain `name` or that `name` contains
    /// (case-insensitive), at most 5.
    static func suggestions(for name: String, among names: [String]) -> [String] {
        let needle = name.lowercased()
        guard !needle.isEmpty else { return [] }
        return names.filter {
            let candidate = $0.lowercased()
            return candidate.contains(needle) || needle.contains(candidate)
        }.prefix(5).map { $0 }
    }
}

/// Parses `--since`: a UTC day, a timestamp (any form the event rules accept, offsets
/// converted to UTC), or a duration back from now (`30s`, `90m`, `12h`, `7d`).
public enum SinceParser {
    /// The ISO 8601 UTC text to compare `finished_at` with.
    public static func parse(_ text: String, now: Date = Date()) throws(InspectError) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let day = Timestamps.parseDay(trimmed) { return Timestamps.formatUTC(day) }
        if let seconds = Timestamps.parse(trimmed) { return Timestamps.formatUTC(seconds) }
        if let unit = trimmed.last, let amount = Int64(trimmed.dropLast()), amount >= 0 {
            let factor: Int64? =
                switch unit {
                case "s": 1
                case "m": 60
                case "h": 3600
                case "d": 86_400
                case "w": 604_800
                default: nil
                }
            if let factor {
                let (span, overflow) = amount.multipliedReportingOverflow(by: factor)
                if !overflow {
                    return Timestamps.formatUTC(Int64(now.timeIntervalSince1970) - span)
                }
            }
        }
        throw InspectError.invalidSince(text)
    }
}

extension Array where Element: Hashable {
    /// The elements in order, each once.
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
