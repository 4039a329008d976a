import Foundation
import PodpipeRules
import Testing

@testable import PodpipeCore

/// The ingest's COPY paths against a real server (issue 18's speed work): binary COPY stores
/// what text COPY stores, hostile text included, and an event file loads the same whether
/// its lines are kept in memory for bronze's COPY or staged with their text.
@Suite("PostgreSQL COPY: binary format, kept and staged event lines", .serialized)
struct PostgresCopyTests {
    /// Text values that COPY text must escape, and bytes PostgreSQL's text cannot hold.
    static let hostile: [String?] = [
        nil, "", "plain", "tab\there", "back\\slash", "\\N", "new\nline", "crlf\r\n", "quote\"'",
        "é日本🎧", "nul\u{0}inside", "\u{0}", String(repeating: "long ", count: 2_000),
    ]
    /// Raw bytes of unknown encoding, and what PostgreSQL keeps of them.
    static let rawBytes: [([UInt8], String)] = [
        ([0x61, 0x09, 0x5C, 0x0A, 0x62], "a\t\\\nb"),
        ([0x61, 0xFF, 0x62, 0xC3], "a\u{FFFD}b\u{FFFD}"),
        ([0x00, 0xE2, 0x82], "\u{FFFD}\u{FFFD}"),
        ([0xF0, 0x9F, 0x8E, 0xA7], "🎧"),
    ]
    static let numbers: [Int64?] = [nil, 0, 1, -1, Int64.min, Int64.max, 1_700_000_000]

    /// What PostgreSQL stores of a value: NUL becomes U+FFFD.
    static func stored(_ value: String?) -> String? {
        value?.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}")
    }

    @Test func binaryCopyStoresWhatTextCopyStores() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let connection = try PostgresConnection(uri: server.uri)
        try connection.execute(
            "CREATE TABLE copied (format text, i bigint, n bigint, t text COLLATE \"C\", r text COLLATE \"C\")"
        )
        let count = max(Self.hostile.count, Self.numbers.count, Self.rawBytes.count)
        var binary = PostgresCopyBinary.header
        var text: [UInt8] = []
        for i in 0..<count {
            let number = Self.numbers[i % Self.numbers.count]
            let value = Self.hostile[i % Self.hostile.count]
            let raw = Self.rawBytes[i % Self.rawBytes.count].0
            PostgresCopyBinary.row(fields: 5, into: &binary)
            PostgresCopyBinary.text("binary", into: &binary)
            PostgresCopyBinary.int8(Int64(i), into: &binary)
            PostgresCopyBinary.int8(number, into: &binary)
            PostgresCopyBinary.text(value, into: &binary)
            raw.withUnsafeBytes { PostgresCopyBinary.text(raw: $0, into: &binary) }
            text.append(
                contentsOf: PostgresCopyText.line(["text", String(i), number.map { String($0) }, value])
                    .dropLast())
            text.append(0x09)
            raw.withUnsafeBytes { PostgresCopyText.raw($0, into: &text) }
            text.append(0x0A)
        }
        binary.append(contentsOf: PostgresCopyBinary.trailer)
        for (sql, data) in [
            ("COPY copied FROM STDIN (FORMAT binary)", binary), ("COPY copied FROM STDIN", text),
        ] {
            var sent = false
            try connection.copyIn(sql) {
                defer { sent = true }
                return sent ? nil : data
            }
        }
        for format in ["binary", "text"] {
            let rows = try connection.query(
                "SELECT i, n, t, r FROM copied WHERE format = $1 ORDER BY i", [format]
            ).rows
            #expect(rows.count == count)
            for (i, row) in rows.enumerated() {
                #expect(row[0] == String(i))
                #expect(
                    row[1] == Self.numbers[i % Self.numbers.count].map { String($0) }, "\(format) row \(i)")
                #expect(row[2] == Self.stored(Self.hostile[i % Self.hostile.count]), "\(format) row \(i)")
                #expect(row[3] == Self.rawBytes[i % Self.rawBytes.count].1, "\(format) row \(i)")
            }
        }
    }

    /// An event file of `lines` lines: valid events, repeats of earlier lines (duplicates
    /// within the file), one key already in silver, rejected lines, raw text with tabs,
    /// backslashes and invalid UTF-8.
    static func eventFile(lines: Int) -> [UInt8] {
        var out: [UInt8] = []
        for n in 0..<lines {
            let line: [UInt8]
            switch n % 10 {
            case 3:
                line = Array("{\"event_type\": \"play\", \"user_id\": \"u\\t\(n)\", ".utf8) + [0xFF]
            case 5:
                line = Array("not json\t\\ at all \(n)".utf8)
            case 7:
                // A repeat of line n - 7 (the first line of the key wins).
                line = Self.event(n - 7)
            default:
                line = Self.event(n)
            }
            out.append(contentsOf: line)
            out.append(contentsOf: n % 4 == 0 ? [0x0D, 0x0A] : [0x0A])
        }
        return out
    }

    /// A valid play event (its episode id holds a tab, escaped in the JSON).
    static func event(_ n: Int) -> [UInt8] {
        let second = String(format: "%02d", n % 60)
        let minute = String(format: "%02d", (n / 60) % 60)
        let hour = String(format: "%02d", (n / 3600) % 24)
        return Array(
            """
            {"event_type": "play", "user_id": "user_\(n % 97)", "episode_id": "ep_\\t\(n % 13)", \
            "timestamp": "2024-01-01T\(hour):\(minute):\(second)", "duration": \(n % 500 + 1)}
            """.utf8)
    }

    /// Loads `path` with `keptRawBytes` into a fresh database; returns the counts and the rows
    /// of bronze (bronze_id from the file's first) and silver.
    static func load(_ path: String, keptRawBytes: Int, server: PostgresServer, database: String) throws -> (
        FileLoadCounts, [[String?]]
    ) {
        let admin = try PostgresConnection(uri: server.uri)
        try admin.execute("CREATE DATABASE \(database)")
        let uri = server.uri.replacingOccurrences(of: "///postgres?", with: "///\(database)?")
        let connection = try PostgresConnection(uri: uri)
        _ = try PostgresMigrations.migrate(connection)
        // A key already in silver (another file's): its lines are duplicates.
        try connection.execute(
            """
            INSERT INTO silver_event (ts, user_id, episode_id, event_type, duration, file_id, line_no)
            VALUES (1704067210, 'user_10', 'ep_\t10', 'play', 11, 1, 1)
            """)
        try connection.execute("BEGIN")
        var loader = PostgresEventLoader(
            validator: EventValidator(now: 2_000_000_000), lineReader: LineReader(),
            shouldStop: { false }, connection: connection)
        loader.keptRawBytes = keptRawBytes
        let counts = try loader.load(source: try ChunkSource(path: path, gzip: false), fileId: 2)
        try connection.execute("COMMIT")
        let first = counts.bronzeIds?.lowerBound ?? 0
        var rows = try connection.query(
            "SELECT 'bronze', bronze_id - $1, file_id, line_no, raw, outcome, error_codes FROM bronze_event ORDER BY bronze_id",
            [String(first)]
        ).rows
        rows += try connection.query(
            """
            SELECT 'silver', ts, user_id, episode_id, event_type, duration, file_id, line_no
            FROM silver_event ORDER BY ts, user_id, episode_id, event_type
            """
        ).rows
        return (counts, rows)
    }

    @Test func keptAndStagedLinesLoadTheSame() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "podpipe-copy-\(UUID().uuidString.prefix(8))"
        ).path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/events-1.ndjson"
        // 10,000 lines: three parser batches (4,096 lines each), so a small budget keeps the
        // first batch and stages the rest.
        let lines = 10_000
        try Data(Self.eventFile(lines: lines)).write(to: URL(fileURLWithPath: path))
        let (allKept, keptRows) = try Self.load(
            path, keptRawBytes: 64 << 20, server: server, database: "kept")
        let (someKept, mixedRows) = try Self.load(path, keptRawBytes: 1, server: server, database: "mixed")
        let (noneKept, stagedRows) = try Self.load(path, keptRawBytes: 0, server: server, database: "staged")
        #expect(allKept.rowsRead == Int64(lines))
        #expect(allKept.rowsLoaded > 0 && allKept.rowsRejected > 0 && allKept.rowsDuplicate > 0)
        #expect(allKept.rowsRejected == Int64(lines / 10 * 2))
        // Line 17 repeats line 10, whose key another file had: both duplicates; line 7 repeats 0.
        #expect(allKept.rowsDuplicate == Int64(lines / 10 + 1))
        #expect(allKept.bronzeIds?.count == lines)
        #expect(someKept == allKept)
        #expect(noneKept == allKept)
        #expect(keptRows.count == lines + Int(allKept.rowsLoaded) + 1)
        #expect(mixedRows == keptRows)
        #expect(stagedRows == keptRows)
        let bronze = keptRows.filter { $0[0] == "bronze" }
        #expect(bronze.map { $0[1] } == (0..<lines).map { String($0) })
        #expect(bronze[3][4]?.hasSuffix("\u{FFFD}") == true)
        #expect(bronze[5][4] == "not json\t\\ at all 5")
        #expect(bronze[7][5] == "duplicate" && bronze[0][5] == "silver" && bronze[5][5] == "rejected")
    }
}
