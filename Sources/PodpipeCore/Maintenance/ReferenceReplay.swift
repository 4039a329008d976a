import Foundation
import PodpipeRules

/// What a reference replay changed, per kind.
struct ReferenceChange: Sendable, Codable, Equatable {
    var kind: String
    /// Ids the replay added to silver, removed from it, or whose values it changed.
    var added: Int
    var removed: Int
    var changed: Int
    /// Ids with the same values, now set by another file or line.
    var moved: Int
    /// bronze_reference rows whose outcome or codes changed.
    var bronzeRows: Int

    /// Whether silver's values changed (gold must reconcile reference data).
    var changesValues: Bool { added + removed + changed > 0 }
}

/// Rebuilds `silver_episode` and `silver_user` from `bronze_reference` with the current
/// rules: every row of the files recorded `loaded`, each at its place in the file order
/// (the newest delivery of its file's bytes, then line), the latest place winning per id
/// with the loader's own upsert (``ReferenceOrder``) — what loading the same files in
/// their order would give. Rows are upserted in load order (file_id, line), which only
/// decides ties, as the loads did.
///
/// The record's fields are kept in bronze (`fields`, beside the raw bytes) as a JSON object
/// `{"column": "value"}` in header order;
/// columns are found by name like the loader does (trimmed, case-insensitive, the first of
/// equal names). A row rejected as `wrong_field_count` stays rejected (its field count is
/// not recoverable from the stored object); a row without such an object (NULL `fields`: a
/// record too long or with an unterminated quote) keeps its outcome.
struct ReferenceReplay {
    /// Per-file counts after the replay (for the ledger).
    var fileCounts: [Int64: FileLoadCounts] = [:]

    /// Runs the replay into TEMP tables, applies it to silver when something differs, and
    /// bumps `silver.reference_version` when values changed. Inside the caller's transaction,
    /// on either engine (its own `reference_replay_*.sql`).
    mutating func run(_ db: any MaintenanceDatabase, apply: Bool) throws -> [ReferenceChange] {
        try db.executeScript(try db.resource("maintenance", "reference_replay_setup"))
        let episode = ReferenceFileLoader.upsertSQL(
            .episodes, into: "replay_episode", rows: "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        let user = ReferenceFileLoader.upsertSQL(
            .users, into: "replay_user", rows: "VALUES ($1, $2, $3, $4, $5, $6, $7)")
        let change =
            "INSERT INTO replay_reference_bronze (bronze_id, outcome, error_codes) VALUES ($1, $2, $3)"
        let places = try Ledger.referencePlaces(db)
        let rows = try db.table(
            """
            SELECT r.bronze_id, r.file_id, r.line_no, r.kind, r.fields, r.outcome, r.error_codes
            FROM bronze_reference AS r
            JOIN ingest_file AS f ON f.file_id = r.file_id
            WHERE f.state = 'loaded'
            ORDER BY r.file_id, r.line_no
            """, []
        ).rows
        for row in rows where row.count == 7 {
            let bronzeId = row[0].int64Value ?? 0
            let fileId = row[1].int64Value ?? 0
            let line = row[2].int64Value ?? 0
            let kind = row[3].stringValue ?? ""
            let raw = row[4].stringValue ?? ""
            let oldOutcome = row[5].stringValue ?? ""
            let oldCodes = row[6].stringValue
            var codes = oldCodes
            var counted = true
            let place = places[fileId] ?? ReferencePlace(mtimeNs: 0, name: "")
            if oldCodes == ReferenceErrorCode.wrongFieldCount.rawValue {
                // Structural: keep.
            } else if let fields = Self.columns(
                raw, kind == "episodes" ? ReferenceFileLoader.episodeColumns : ReferenceFileLoader.userColumns
            ) {
                codes = nil
                if kind == "episodes" {
                    switch ReferenceRules.validateEpisode(
                        episodeId: fields[0], podcastId: fields[1], title: fields[2],
                        releaseDate: fields[3], durationSeconds: fields[4])
                    {
                    case .success(let e):
                        try db.execute(
                            episode,
                            [
                                .text(e.episodeId), .text(e.podcastId), .text(e.title), .text(e.releaseDate),
                                .integer(e.durationSeconds), .integer(fileId), .integer(line),
                                .integer(place.mtimeNs), .text(place.name),
                            ])
                    case .failure(let errors): codes = errors.text
                    }
                } else {
                    switch ReferenceRules.validateUser(
                        userId: fields[0], signupDate: fields[1], country: fields[2])
                    {
                    case .success(let u):
                        try db.execute(
                            user,
                            [
                                .text(u.userId), .text(u.signupDate), .text(u.country), .integer(fileId),
                                .integer(line), .integer(place.mtimeNs), .text(place.name),
                            ])
                    case .failure(let errors): codes = errors.text
                    }
                }
            } else {
                counted = false
            }
            var counts = fileCounts[fileId] ?? FileLoadCounts()
            counts.rowsRead += 1
            if !counted {
                // Not interpretable: keep the row as it is.
                if oldOutcome == "silver" { counts.rowsLoaded += 1 } else { counts.rowsRejected += 1 }
                if let oldCodes { counts.noteError(oldCodes, line: line) }
                fileCounts[fileId] = counts
                continue
            }
            if let codes {
                counts.rowsRejected += 1
                counts.noteError(codes, line: line)
            } else {
                counts.rowsLoaded += 1
            }
            fileCounts[fileId] = counts
            let outcome = codes == nil ? "silver" : "rejected"
            if outcome != oldOutcome || codes != oldCodes {
                try db.execute(
                    change, [.integer(bronzeId), .text(outcome), codes.map { .text($0) } ?? .null])
            }
        }
        let changes = try db.table(try db.resource("maintenance", "reference_replay_diff"), []).rows.map {
            row in
            func int(_ index: Int) -> Int {
                Int(truncatingIfNeeded: index < row.count ? row[index].int64Value ?? 0 : 0)
            }
            return ReferenceChange(
                kind: row.first?.stringValue ?? "", added: int(1), removed: int(2), changed: int(3),
                moved: int(4), bronzeRows: int(5))
        }
        let differs = changes.contains { $0.changesValues || $0.moved > 0 || $0.bronzeRows > 0 }
        if apply && differs {
            try db.executeScript(try db.resource("maintenance", "reference_replay_apply"))
            if changes.contains(where: \.changesValues) {
                try db.incrementState(.silverReferenceVersion)
            }
        }
        return changes
    }

    /// The values of `required` columns in a stored raw record, or nil when the record is
    /// not a JSON object of strings or lacks one of them.
    static func columns(_ raw: String, _ required: [String]) -> [String]? {
        guard let pairs = ReferenceRawRecord.parse(raw) else { return nil }
        var values: [String] = []
        for name in required {
            guard let pair = pairs.first(where: { $0.key.lowercased() == name }) else { return nil }
            values.append(pair.value)
        }
        return values
    }
}

/// Parses the raw text of a `bronze_reference` row: a JSON object whose members are all
/// strings, `{"column": "value", …}`, as `ReferenceFileLoader.jsonObject` writes it into
/// `bronze_reference.fields`. The
/// members come back in order (duplicate names kept), which a dictionary would lose.
enum ReferenceRawRecord {
    static func parse(_ raw: String) -> [(key: String, value: String)]? {
        var scalars = Array(raw.unicodeScalars)[...]
        func skipSpace() {
            while let c = scalars.first, c == " " || c == "\t" || c == "\n" || c == "\r" {
                scalars.removeFirst()
            }
        }
        func expect(_ c: Unicode.Scalar) -> Bool {
            skipSpace()
            guard scalars.first == c else { return false }
            scalars.removeFirst()
            return true
        }
        func string() -> String? {
            guard expect("\"") else { return nil }
            var out = String.UnicodeScalarView()
            while let c = scalars.popFirst() {
                switch c {
                case "\"": return String(out)
                case "\\":
                    guard let e = scalars.popFirst() else { return nil }
                    switch e {
                    case "\"": out.append("\"")
                    case "\\": out.append("\\")
                    case "/": out.append("/")
                    case "n": out.append("\n")
                    case "r": out.append("\r")
                    case "t": out.append("\t")
                    case "b": out.append("\u{08}")
                    case "f": out.append("\u{0C}")
                    case "u":
                        let hex = String(String.UnicodeScalarView(scalars.prefix(4)))
                        guard hex.count == 4, let value = UInt32(hex, radix: 16),
                            let scalar = Unicode.Scalar(value)
                        else { return nil }
                        scalars.removeFirst(4)
                        out.append(scalar)
                    default: return nil
                    }
                default: out.append(c)
                }
            }
            return nil
        }
        guard expect("{") else { return nil }
        var pairs: [(key: String, value: String)] = []
        if expect("}") {
            skipSpace()
            return scalars.isEmpty ? pairs : nil
        }
        while true {
            guard let key = string(), expect(":"), let value = string() else { return nil }
            pairs.append((key, value))
            if expect(",") { continue }
            guard expect("}") else { return nil }
            skipSpace()
            return scalars.isEmpty ? pairs : nil
        }
    }
}
