import Foundation
import GRDB
import PodpipeRules
import Testing

@testable import PodpipeCore

/// A database with the real migrations, loaded with the real loaders (no daemon, no lock):
/// each file gets a ledger row and its rows, in one transaction, in the order given. Unless
/// told, each file is given a modification time one second after the previous one, so the
/// file order (which decides reference rows, ``ReferenceOrder``) is the order given.
final class LoadedWorld {
    let directory: URL
    let store: Store
    var queue: DatabasePool { store.pool }
    var database: String { directory.appendingPathComponent("podpipe.sqlite").path }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "podpipe-unit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try Store.openForWriting(path: directory.appendingPathComponent("podpipe.sqlite").path)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// The modification time (ns) of the last file loaded without one given.
    private var clock: Int64 = 1_700_000_000_000_000_000

    /// Writes `content` as `name` and loads it like the pipeline does (loaded or rejected,
    /// duplicate, unchanged), as a file modified at `mtimeNs` (by default: after the last).
    @discardableResult
    func load(
        _ name: String, _ content: String, now: Int64 = 1_800_000_000, skew: Int64 = 300,
        mtimeNs: Int64? = nil
    ) throws -> Int64 {
        return try ingest(name, content, now: now, skew: skew, mtimeNs: mtimeNs).entry.fileId ?? 0
    }

    /// The same, returning the procedure's result.
    func ingest(
        _ name: String, _ content: String, now: Int64 = 1_800_000_000, skew: Int64 = 300,
        mtimeNs: Int64? = nil
    ) throws -> FileIngestResult {
        let modified: Int64
        if let mtimeNs {
            modified = mtimeNs
        } else {
            clock += 1_000_000_000
            modified = clock
        }
        let path = directory.appendingPathComponent(name).path
        try content.write(toFile: path, atomically: true, encoding: .utf8)
        guard case .ingest(let kind, let gzip) = FileClassifier.classify(name) else {
            throw WorldError.notAnInputName(name)
        }
        // The per-file procedure podpiped runs (FileIngest), with the validator's clock fixed.
        let candidate = Candidate(
            name: name, path: path, kind: kind, gzip: gzip, size: Int64(content.utf8.count),
            mtimeNs: modified)
        let procedure = FileIngest(
            rules: FileRules(
                validator: EventValidatorFactory.make(now: now, skew: skew), maxLineBytes: 32 << 20,
                shouldStop: { false }))
        return try store.pool.write { db in
            var session = LiveIngestSession(db: db, store: store, observer: nil)
            return try procedure.run(candidate, started: Date(), session: &session)
        }
    }

    func count(_ sql: String) throws -> Int {
        try queue.read { try Int.fetchOne($0, sql: sql) ?? -1 }
    }

    enum WorldError: Error { case notAnInputName(String) }
}

enum EventValidatorFactory {
    static func make(now: Int64, skew: Int64) -> EventValidator {
        EventValidator(now: now, allowedFutureSkewSeconds: skew)
    }
}

func eventLine(_ type: String, _ user: String, _ episode: String, _ ts: String, _ duration: String = "null")
    -> String
{
    #"{"event_type": "\#(type)", "user_id": "\#(user)", "episode_id": "\#(episode)", "timestamp": "\#(ts)", "duration": \#(duration)}"#
}

@Suite("inspect: files, rejects, --since")
struct InspectTests {
    @Test func sinceAcceptsDaysTimestampsAndDurations() throws {
        let now = Date(timeIntervalSince1970: 1_713_690_000)  // 2024-04-21T09:00:00Z
        #expect(try SinceParser.parse("2024-04-21", now: now) == "2024-04-21T00:00:00Z")
        #expect(try SinceParser.parse("2024-04-21T11:30:00+02:00", now: now) == "2024-04-21T09:30:00Z")
        #expect(try SinceParser.parse("2024-04-21 09:00:00", now: now) == "2024-04-21T09:00:00Z")
        #expect(try SinceParser.parse("90m", now: now) == "2024-04-21T07:30:00Z")
        #expect(try SinceParser.parse("2h", now: now) == "2024-04-21T07:00:00Z")
        #expect(try SinceParser.parse("1d", now: now) == "2024-04-20T09:00:00Z")
        #expect(try SinceParser.parse("1w", now: now) == "2024-04-14T09:00:00Z")
        for bad in ["yesterday", "", "5", "-1d", "2024-02-30", "1y"] {
            #expect(throws: InspectError.invalidSince(bad)) { try SinceParser.parse(bad, now: now) }
        }
    }

    @Test func filesAndRejectsFilterAndCount() throws {
        let world = try LoadedWorld()
        try world.load(
            "a.ndjson",
            [
                eventLine("play", "u1", "e1", "2024-01-01T10:00:00", "10"),
                eventLine("stop", "u1", "e1", "2024-01-01T10:00:00"),
                #"{"event_type": "play""#,
            ].joined(separator: "\n"))
        try world.load(
            "users.csv", "user_id,signup_date,country\nu1,2024-01-01,DE\n,2024-01-01,\n")
        let (files, rejects, summary) = try world.queue.read { db in
            (
                try Inspect.files(LedgerFilter(kind: .events), in: db),
                try Inspect.rejects(RejectFilter(code: "invalid_event_type"), in: db),
                try Inspect.rejectSummary(RejectFilter(), in: db)
            )
        }
        #expect(files.rows.count == 1)
        #expect(files.rows.first?[1] == .text("a.ndjson"))
        #expect(rejects.rows.count == 1)
        #expect(rejects.rows.first?[3] == .integer(2))
        #expect(rejects.rows.first?[5] == .text(eventLine("stop", "u1", "e1", "2024-01-01T10:00:00")))
        let byCode = summary.byCode.rows.map { "\($0[0]) \($0[1]) \($0[2])" }
        #expect(byCode.contains("text(\"users\") text(\"missing_user_id\") integer(1)"))
        #expect(byCode.contains("text(\"events\") text(\"malformed_json\") integer(1)"))
        #expect(summary.byFile.rows.count == 2)
        #expect(throws: InspectError.self) {
            try world.queue.read { db in try Inspect.rejects(RejectFilter(file: "b.ndjson"), in: db) }
        }
    }

    /// The summary's filters reach both of its queries by position (the read seam): the
    /// file and the code each select what they name, alone and together.
    @Test func theSummaryFiltersByFileAndByCode() throws {
        let world = try LoadedWorld()
        try world.load(
            "a.ndjson",
            [eventLine("play", "u1", "e1", "2024-01-01T10:00:00", "10"), #"{"event_type": "play""#]
                .joined(separator: "\n"))
        try world.load(
            "b.ndjson",
            [
                eventLine("stop", "u1", "e1", "2024-01-01T10:00:00"), #"{"event_type": "play""#,
                #"{"event_type": "play""#,
            ].joined(separator: "\n"))
        func summary(_ filter: RejectFilter) throws -> (byCode: [String], byFile: [String]) {
            let (byCode, byFile) = try world.queue.read { db in try Inspect.rejectSummary(filter, in: db) }
            return (
                byCode.rows.map { "\($0[1]) \($0[2])" },
                byFile.rows.map { "\($0[1]) \($0[5])" }
            )
        }
        let malformed = "text(\"malformed_json\")"
        let invalidType = "text(\"invalid_event_type\")"
        let all = try summary(RejectFilter())
        #expect(all.byFile == ["text(\"b.ndjson\") integer(3)", "text(\"a.ndjson\") integer(1)"])
        let fileB = try summary(RejectFilter(file: "b.ndjson"))
        #expect(Set(fileB.byCode) == ["\(malformed) integer(2)", "\(invalidType) integer(1)"])
        #expect(fileB.byFile == ["text(\"b.ndjson\") integer(3)"])
        let code = try summary(RejectFilter(code: "malformed_json"))
        #expect(code.byCode == ["\(malformed) integer(3)"])
        #expect(code.byFile == ["text(\"b.ndjson\") integer(2)", "text(\"a.ndjson\") integer(1)"])
        let both = try summary(RejectFilter(file: "a.ndjson", code: "malformed_json"))
        #expect(both.byCode == ["\(malformed) integer(1)"])
        #expect(both.byFile == ["text(\"a.ndjson\") integer(1)"])
    }

    @Test func theTableViewClipsAndFallsBack() {
        let table = ReportTable(
            columns: ["file_id", "name", "first_error", "message"],
            rows: [
                [.integer(1), .text(String(repeating: "x", count: 50)), .null, .text("same bytes as a")]
            ])
        let view = InspectView.project(
            table, [("file_id", "id", nil), ("name", "name", 10), ("first_error", "note", nil)],
            fallback: ["first_error": "message"])
        #expect(view.columns == ["id", "name", "note"])
        #expect(view.rows == [[.integer(1), .text("xxxxxxxxx…"), .text("same bytes as a")]])
    }
}

@Suite("inspect: dry run")
struct DryRunTests {
    @Test func reportsWhatWouldLoadWithoutWriting() throws {
        let world = try LoadedWorld()
        try world.load("a.ndjson", eventLine("play", "u1", "e1", "2024-01-01T10:00:00", "10"))
        let path = world.directory.appendingPathComponent("b.ndjson").path
        try [
            eventLine("play", "u1", "e1", "2024-01-01T10:00:00", "99"),  // in silver already
            eventLine("play", "u2", "e1", "2024-01-01T10:00:00", "10"),
            eventLine("pause", "u2", "e1", "2024-01-01T10:00:00", "3"),
        ].joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let before = try world.count("SELECT count(*) FROM bronze_event")
        let report = try DryRunValidator(database: world.database).run(paths: [path])
        let file = try #require(report.files.first)
        #expect(file.outcome == .loaded)
        #expect(file.rowsRead == 3)
        #expect(file.rowsLoaded == 1)
        #expect(file.rowsDuplicate == 1)
        #expect(file.rowsRejected == 1)
        #expect(file.codeCounts == ["non_null_duration_for_other_event": 1])
        #expect(
            file.rejects == [
                DryRunReject(
                    line: 3, codes: "non_null_duration_for_other_event",
                    raw: eventLine("pause", "u2", "e1", "2024-01-01T10:00:00", "3"))
            ])
        #expect(try world.count("SELECT count(*) FROM bronze_event") == before)
        #expect(report.allFilesUsable)
        #expect(report.anyRejection)
        #expect(report.text().contains("3 read · 1 to silver · 1 rejected · 1 duplicate"))

        // Two files of one run see each other; without a database too.
        let copy = world.directory.appendingPathComponent("c.ndjson").path
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        let alone = try DryRunValidator(database: nil).run(paths: [path, copy])
        #expect(alone.database == nil)
        #expect(alone.files.map(\.outcome.rawValue).sorted() == ["duplicate", "loaded"])
    }

    @Test func ignoredAndMissingFiles() throws {
        let world = try LoadedWorld()
        let notes = world.directory.appendingPathComponent("notes.txt").path
        try "x".write(toFile: notes, atomically: true, encoding: .utf8)
        let report = try DryRunValidator(database: nil).run(paths: [notes, "/nonexistent/a.json"])
        #expect(report.files.map(\.outcome) == [.ignored, .failed])
        #expect(!report.allFilesUsable)
        let forced = try DryRunValidator(database: nil, kind: .events).run(paths: [notes])
        #expect(forced.files.first?.outcome == .rejected)  // "x" is not one line of JSON
    }
}
