import Foundation
import Testing

// Issue 14 through the real binaries: text from input never acts on a terminal (class 4),
// and reference CSVs keep their records byte for byte, bounded (class 2, CSV items).

/// Scalars that would act on a terminal if printed raw: ESC, CR, C1 controls, bidi controls.
private func actsOnTerminal(_ text: String) -> Bool {
    text.unicodeScalars.contains { scalar in
        let v = scalar.value
        return v == 0x1B || v == 0x0D || v == 0x07 || (0x80...0x9F).contains(v)
            || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)
    }
}

@Suite("issue 14: terminal output escapes text from input")
struct TerminalInjectionTests {
    static let clear = "\u{1B}[2J"
    static let title = "\u{1B}]0;owned\u{07}"
    static let episode = "ep\u{1B}[2J"
    static let episodeTitle = "Live \u{202E}3pm.exe\r"

    /// A folder whose names and values carry escape sequences: an event file named with
    /// `ESC[2J` (one of its lines rejected, holding an OSC title sequence), an episode whose
    /// id holds `ESC[2J` and whose title holds U+202E and a CR, a rejected users file
    /// named with an OSC sequence.
    static func hostileFolder() throws -> Sandbox {
        let box = try Sandbox()
        let day = "2024-04-21"
        var events = ""
        for user in 1...3 {
            events +=
                #"{"event_type": "complete", "user_id": "u\#(user)", "episode_id": "ep\u001b[2J", "timestamp": "\#(day)T09:13:2\#(user)", "duration": 100}"#
                + "\n"
        }
        events += #"{"event_type": "play", "user_id": "\#(title)", "episode_id": 5"# + "\n"
        try box.drop("events-\(clear).json", events, mtime: 1_700_000_000)
        try box.drop(
            "episodes-1.csv",
            "episode_id,podcast_id,title,release_date,duration_seconds\n\(episode),p1,\"\(episodeTitle)\",2024-01-01,300\n",
            mtime: 1_700_000_001)
        try box.drop(
            "users-\(title).csv", "user_id,country,user_id\nu1,DE,u1\n", mtime: 1_700_000_002)
        return box
    }

    @Test func humanReadableOutputsCarryNoRawControlOrBidiCharacter() throws {
        let box = try Self.hostileFolder()
        let once = try box.podpiped()
        #expect(once.status == 0, "\(once.stderr)")
        #expect(!actsOnTerminal(once.stderr), "podpiped's stderr log: \(once.stderr.debugDescription)")
        #expect(once.stderr.contains("events-\\x1b[2J.json"))

        let runs: [(String, [String])] = [
            ("status", ["status"]),
            ("files", ["files"]),
            ("rejects", ["rejects"]),
            ("rejects --summary", ["rejects", "--summary"]),
            ("top-episodes", ["report", "top-episodes", "--as-of", "2024-04-21"]),
            ("validate", ["validate", box.dataLoad]),
            ("reprocess --dry-run", ["reprocess", "--dry-run", "events-\(Self.clear).json"]),
        ]
        for (name, args) in runs {
            let run = try box.ctl(args)
            #expect(!actsOnTerminal(run.stdout), "\(name) stdout: \(run.stdout.debugDescription)")
            #expect(!actsOnTerminal(run.stderr), "\(name) stderr: \(run.stderr.debugDescription)")
        }
        // The escaped forms are what the operator sees.
        #expect(try box.ctl(["files"]).stdout.contains("events-\\x1b[2J.json"))
        let top = try box.ctl(["report", "top-episodes", "--as-of", "2024-04-21"]).stdout
        #expect(top.contains("ep\\x1b[2J") && top.contains("Live \\u{202e}3pm.exe\\r"), "\(top)")
        #expect(try box.ctl(["status"]).stdout.contains("users-\\x1b]0;owned\\x07.csv"))
        // An unknown name is quoted back escaped in the error message.
        let unknown = try box.ctl(["reprocess", "--dry-run", "no-\(Self.clear).json"])
        #expect(unknown.status != 0 && !actsOnTerminal(unknown.stderr), "\(unknown.stderr)")
    }

    @Test func csvAndJSONKeepTheExactValues() throws {
        let box = try Self.hostileFolder()
        #expect(try box.podpiped().status == 0)
        let csv = try box.ctl(["report", "top-episodes", "--as-of", "2024-04-21", "--format", "csv"]).stdout
        // RFC 4180: the CR forces quotes; the value is exact.
        #expect(
            csv
                == "rank,episode_id,title,podcast_id,completions\n1,\(Self.episode),\"\(Self.episodeTitle)\",p1,3\n"
        )
        let json = try box.ctl(["report", "top-episodes", "--as-of", "2024-04-21", "--format", "json"]).stdout
        let rows = try #require(try jsonValue(json) as? [[String: Any]])
        #expect(rows.first?["episode_id"] as? String == Self.episode)
        #expect(rows.first?["title"] as? String == Self.episodeTitle)
        #expect(!json.contains("\u{1B}"), "JSON escapes control characters: \(json)")
        let files = try box.ctl(["files", "--format", "json"]).stdout
        let names = try #require(try jsonValue(files) as? [[String: Any]]).compactMap {
            $0["name"] as? String
        }
        #expect(Set(names) == ["events-\(Self.clear).json", "episodes-1.csv", "users-\(Self.title).csv"])
    }
}

@Suite("issue 14: reference CSV records, bounded and byte for byte")
struct CSVRecordIntegrationTests {
    static let header = "user_id,signup_date,country\n"

    @Test func anUnterminatedQuoteIsARejectedRowWithItsLineAndTheRestLoads() throws {
        let box = try Sandbox()
        // 20 MB: line 3 opens a quote it never closes; line 5 is one 20 MB line. Before the
        // fix the quote took the rest of the file into one field (1 row read, 0 rejected,
        // memory a multiple of the file).
        let filler = String(repeating: "x", count: 20_000_000)
        let text =
            Self.header
            + "u0,2024-01-01,DE\nu1,\"2024-01-01,DE\nu2,2024-01-01,FR\n\(filler)\nu3,2024-01-01,IT\n"
        try box.drop("users-big.csv", text)
        let once = try Binaries.run(
            "podpiped", ["--data-load", box.dataLoad, "--database", box.database, "--once"],
            env: ["PODPIPE_INGEST_MAX_LINE_BYTES": "1048576"],
            prefix: ["/usr/bin/time", "-f", "maxrss_kb=%M"])
        #expect(once.status == 0, "\(once.stderr.suffix(2000))")
        let row = try #require(
            try box.rows(
                "SELECT state, rows_read, rows_loaded, rows_rejected, first_error_line, first_error FROM ingest_file"
            ).first)
        #expect(row["state"] as String? == "loaded")
        #expect(row["rows_read"] as Int? == 5)
        #expect(row["rows_loaded"] as Int? == 3)
        #expect(row["rows_rejected"] as Int? == 2)
        #expect(row["first_error_line"] as Int? == 3)
        #expect(row["first_error"] as String? == "unterminated_quote")
        #expect(try box.query("SELECT group_concat(user_id) FROM silver_user", as: String.self) == "u0,u2,u3")
        let rejected = try box.rows(
            "SELECT line_no, error_codes, length(raw) AS n FROM bronze_reference WHERE outcome = 'rejected' ORDER BY line_no"
        )
        #expect(rejected.map { $0["line_no"] as Int? } == [3, 5])
        #expect(rejected.map { $0["error_codes"] as String? } == ["unterminated_quote", "record_too_long"])
        #expect(
            try box.query("SELECT raw FROM bronze_reference WHERE line_no = 3", as: String.self)
                == "u1,\"2024-01-01,DE")
        #expect(rejected.last?["n"] as Int? == 4096)
        // Memory: one chunk and one bounded record, not the 20 MB line.
        let rss = once.stderr.split(separator: "\n").last { $0.hasPrefix("maxrss_kb=") }
        let kb = try #require(rss.flatMap { Int($0.dropFirst("maxrss_kb=".count)) })
        #expect(kb < 100_000, "peak RSS \(kb) KB")
    }

    @Test func aRecordPastTheLineBoundIsRejectedAndReadingGoesOn() throws {
        let box = try Sandbox()
        let long = String(repeating: "x", count: 5000)
        try box.drop(
            "users-1.csv",
            Self.header + "u1,2024-01-01,DE\n\"u2,\(long)\nu3,2024-01-01,FR\nu4,2024-01-01,IT\n")
        let once = try box.podpiped(env: ["PODPIPE_INGEST_MAX_LINE_BYTES": "2048"])
        #expect(once.status == 0, "\(once.stderr)")
        #expect(try box.query("SELECT count(*) FROM silver_user") == 3)
        let rejected = try box.rows(
            "SELECT line_no, error_codes, length(raw) AS n FROM bronze_reference WHERE outcome = 'rejected'")
        #expect(rejected.count == 1)
        #expect(rejected.first?["line_no"] as Int? == 3)
        // The open quote has no line break within the bound: the line is too long.
        #expect(rejected.first?["error_codes"] as String? == "record_too_long")
        #expect(rejected.first?["n"] as Int? == 2048)
    }

    @Test func bronzeKeepsTheRecordByteForByte() throws {
        let box = try Sandbox()
        let records = [
            "e1,p,\"abc\"def,2024-01-01,100",
            "e2,p,\"Title, with \"\"quotes\"\"\",2024-01-01,200",
            "e3,p,\"two\r\nlines\",2024-01-01,300",
            " e4 ,p,plain,2024-01-01,400",
        ]
        try box.drop(
            "episodes-1.csv",
            "\u{FEFF}episode_id,podcast_id,title,release_date,duration_seconds\r\n"
                + records.joined(separator: "\r\n") + "\r\n")
        #expect(try box.podpiped().status == 0)
        let raw = try box.rows("SELECT raw, line_no FROM bronze_reference ORDER BY line_no")
        #expect(raw.map { $0["raw"] as String? } == records)
        #expect(raw.map { $0["line_no"] as Int? } == [2, 3, 4, 6])
        #expect(
            try box.query("SELECT title FROM silver_episode WHERE episode_id = 'e1'", as: String.self)
                == "abcdef")
        #expect(
            try box.query("SELECT title FROM silver_episode WHERE episode_id = 'e3'", as: String.self)
                == "two\r\nlines")
        // revalidate replays the stored fields: nothing changes.
        let revalidate = try box.ctl(["revalidate", "--json"])
        #expect(revalidate.status == 0, "\(revalidate.stderr)")
        #expect(try box.query("SELECT count(*) FROM silver_episode") == 4)
    }

    @Test func aNULIsReportedOnItsLineAsNotCSV() throws {
        let box = try Sandbox()
        try box.drop("users-1.csv", Self.header + "u1,2024-01-01,DE\nu2,2024-01-01,D\u{0}E\n")
        #expect(try box.podpiped().status == 0)
        let row = try #require(try box.rows("SELECT state, message FROM ingest_file").first)
        #expect(row["state"] as String? == "rejected")
        let message = try #require(row["message"] as String?)
        #expect(
            message.contains("line 3") && message.contains("CSV") && !message.contains("NDJSON"), "\(message)"
        )
    }

    @Test func aDuplicatedColumnNameRejectsTheFileNamingIt() throws {
        let box = try Sandbox()
        try box.drop("users-1.csv", "user_id,signup_date,country,Country\nu1,2024-01-01,DE,FR\n")
        #expect(try box.podpiped().status == 0)
        let row = try #require(try box.rows("SELECT state, message FROM ingest_file").first)
        #expect(row["state"] as String? == "rejected")
        #expect(
            (row["message"] as String?)?.contains("Country") == true,
            "\(String(describing: row["message"] as String?))")
        #expect(try box.query("SELECT count(*) FROM silver_user") == 0)
    }
}
