import Foundation
import GRDB
import Testing

@testable import PodpipeCore

@Suite("Reports and rendering")
struct ReportTests {
    static let top = ReportTable(
        columns: ["rank", "episode_id", "title", "podcast_id", "completions"],
        rows: [
            [.integer(1), .text("ep_10"), .text("Hello, \"World\""), .text("podcast_1"), .integer(12)],
            [.integer(2), .text("ep_2"), .text("Plain"), .text("podcast_2"), .integer(3)],
            [.integer(3), .text("ep_404"), .text(""), .null, .integer(3)],
        ])
    static let listenThrough = ReportTable(
        columns: ["country", "avg_listen_through_rate", "completions"],
        rows: [
            [.text("DE"), .real(1.5074236, decimals: 6), .integer(245)],
            [.text("FR"), .real(0.5, decimals: 6), .integer(2)],
            [.text("US"), .real(1, decimals: 6), .integer(10)],
        ])

    @Test("CSV: top-episodes, byte for byte, RFC 4180 quoting of a title with a comma and a quote")
    func csvTopEpisodes() {
        #expect(
            ReportRenderer.render(Self.top, as: .csv) == #"""
                rank,episode_id,title,podcast_id,completions
                1,ep_10,"Hello, ""World""",podcast_1,12
                2,ep_2,Plain,podcast_2,3
                3,ep_404,,,3

                """#)
    }

    @Test("CSV: listen-through with exactly six decimals, \\n line ends")
    func csvListenThrough() {
        let csv = ReportRenderer.render(Self.listenThrough, as: .csv)
        #expect(
            csv
                == "country,avg_listen_through_rate,completions\nDE,1.507424,245\nFR,0.500000,2\nUS,1.000000,10\n"
        )
        #expect(!csv.contains("\r"))
    }

    @Test("CSV: multi-episode-users, total and by day; an empty result is the header alone")
    func csvMultiEpisodeUsers() {
        let total = ReportTable(columns: ["users"], rows: [[.integer(13)]])
        #expect(ReportRenderer.render(total, as: .csv) == "users\n13\n")
        let byDay = ReportTable(
            columns: ["day", "users"],
            rows: [[.text("2024-03-01"), .integer(2)], [.text("2024-03-04"), .integer(1)]])
        #expect(ReportRenderer.render(byDay, as: .csv) == "day,users\n2024-03-01,2\n2024-03-04,1\n")
        #expect(
            ReportRenderer.render(ReportTable(columns: ["day", "users"], rows: []), as: .csv) == "day,users\n"
        )
    }

    @Test("CSV quoting: only fields that need it; newlines and quotes inside fields")
    func csvQuoting() {
        #expect(ReportRenderer.csvField("plain text") == "plain text")
        #expect(ReportRenderer.csvField("a,b") == "\"a,b\"")
        #expect(ReportRenderer.csvField("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(ReportRenderer.csvField("two\nlines") == "\"two\nlines\"")
        #expect(ReportRenderer.csvField("crlf\r\nend") == "\"crlf\r\nend\"")
        #expect(ReportRenderer.fixed(-0.0000001, decimals: 6) == "0.000000")
        #expect(ReportRenderer.fixed(0.1234567, decimals: 6) == "0.123457")
    }

    @Test("table: aligned columns, numbers right-aligned, a header rule, no trailing spaces")
    func tableFormat() {
        #expect(
            ReportRenderer.render(Self.top, as: .table) == """
                rank  episode_id  title           podcast_id  completions
                ----  ----------  --------------  ----------  -----------
                   1  ep_10       Hello, "World"  podcast_1            12
                   2  ep_2        Plain           podcast_2             3
                   3  ep_404                                            3

                """)
        #expect(
            ReportRenderer.render(ReportTable(columns: ["day", "users"], rows: []), as: .table) == """
                day  users
                ---  -----
                (no rows)

                """)
    }

    @Test("json: an array of objects keyed by column, numbers as numbers, the rate as a number")
    func jsonFormat() throws {
        let json = ReportRenderer.render(Self.listenThrough, as: .json)
        #expect(
            json == """
                [
                  {"country": "DE", "avg_listen_through_rate": 1.507424, "completions": 245},
                  {"country": "FR", "avg_listen_through_rate": 0.500000, "completions": 2},
                  {"country": "US", "avg_listen_through_rate": 1.000000, "completions": 10}
                ]

                """)
        let parsed = try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(parsed.count == 3)
        #expect((parsed[0]["avg_listen_through_rate"] as? NSNumber)?.doubleValue == 1.507424)
        #expect((parsed[0]["completions"] as? NSNumber)?.intValue == 245)
        let top = try #require(
            JSONSerialization.jsonObject(with: Data(ReportRenderer.render(Self.top, as: .json).utf8))
                as? [[String: Any]])
        #expect(top[0]["title"] as? String == "Hello, \"World\"")
        #expect(top[2]["podcast_id"] is NSNull)
        #expect(ReportRenderer.render(ReportTable(columns: ["users"], rows: []), as: .json) == "[]\n")
    }

    @Test("end to end: gold answers rendered as the SPEC §8 CSV")
    func endToEndCSV() throws {
        let world = try SilverWorld()
        try world.reference(
            users: [
                "u1": .init(signup: "2024-01-01", country: "DE"),
                "u2": .init(signup: "2024-01-01", country: "FR"),
            ],
            episodes: [
                "ep_10": .init(
                    podcast: "podcast_1", title: "News, \"Daily\"", release: "2024-01-01", duration: 1000),
                "ep_2": .init(podcast: "podcast_2", title: "Two", release: "2024-01-01", duration: 3000),
            ])
        try world.event("u1", "ep_10", "complete", on: "2024-03-01", duration: 1500)
        try world.event("u2", "ep_2", "complete", on: "2024-03-01", duration: 1000)
        try world.event("u1", "ep_2", "complete", on: "2024-03-02", duration: 2000)
        try world.event("u2", "ep_10", "complete", on: "2024-03-02", duration: 250)
        try world.event("u1", "ep_3", "play", on: "2024-03-02")
        try world.refresh()
        let top = ReportRenderer.render(try world.report(.topEpisodes), as: .csv)
        #expect(
            top
                == "rank,episode_id,title,podcast_id,completions\n1,ep_10,\"News, \"\"Daily\"\"\",podcast_1,2\n2,ep_2,Two,podcast_2,2\n"
        )
        // DE: 1500/1000 and 2000/3000 -> 1.083333; FR: 1000/3000 and 250/1000 -> 0.291667
        let listen = ReportRenderer.render(try world.report(.listenThrough), as: .csv)
        #expect(listen == "country,avg_listen_through_rate,completions\nDE,1.083333,2\nFR,0.291667,2\n")
        #expect(ReportRenderer.render(try world.report(.multiEpisodeUsers), as: .csv) == "users\n0\n")
        #expect(
            ReportRenderer.render(try world.report(.multiEpisodeUsers, ReportOptions(byDay: true)), as: .csv)
                == "day,users\n")
        try world.event("u1", "ep_10", "play", on: "2024-03-02")
        try world.refresh()
        #expect(ReportRenderer.render(try world.report(.multiEpisodeUsers), as: .csv) == "users\n1\n")
        #expect(
            ReportRenderer.render(try world.report(.multiEpisodeUsers, ReportOptions(byDay: true)), as: .csv)
                == "day,users\n2024-03-02,1\n")
        #expect(
            ReportRenderer.render(try world.report(.topEpisodes, ReportOptions(asOf: "2024-03-01")), as: .csv)
                == "rank,episode_id,title,podcast_id,completions\n1,ep_10,\"News, \"\"Daily\"\"\",podcast_1,1\n2,ep_2,Two,podcast_2,1\n"
        )
    }

    @Test(
        "an invalid --as-of is a typed error with a clear message",
        arguments: [
            "2024-02-30", "2023-02-29", "2024-13-01", "2024-00-10", "2024-3-1", "20240301", "yesterday", "",
            " 2024-03-01", "2024-03-01T00:00:00", "１２３４-03-01",
        ])
    func invalidAsOf(value: String) throws {
        let world = try SilverWorld()
        try world.refresh()
        let error = #expect(throws: ReportError.self) {
            try world.report(.topEpisodes, ReportOptions(asOf: value))
        }
        #expect(error == .invalidAsOf(value))
        #expect(error?.description.contains("YYYY-MM-DD") == true)
    }

    @Test("valid --as-of dates, leap days included")
    func validAsOf() throws {
        let world = try SilverWorld()
        try world.refresh()
        for value in ["2024-02-29", "2000-02-29", "1999-12-31", "2026-11-27"] {
            #expect(try world.report(.topEpisodes, ReportOptions(asOf: value)).rows.isEmpty)
        }
        #expect(GoldClock.parseDay("1900-02-29") == nil)
        #expect(GoldClock.parseDay("0000-03-01") == nil)
        #expect(GoldClock.parseDay("0001-01-01") == -719_162)
        #expect(GoldClock.parseDay("2024-02-29 ") == nil)
        #expect(GoldClock.parseDay("1970-01-01") == 0)
        #expect(GoldClock.parseDay("2024-03-01") == SilverWorld.dayNumber("2024-03-01"))
        #expect(GoldClock.dateString(days: 19_783) == GoldOracle.date(19_783))
    }

    @Test("reports refuse a database whose gold was never refreshed, or that has no gold")
    func goldNotReady() throws {
        let world = try SilverWorld()
        #expect(throws: ReportError.goldNotRefreshed) { try world.report(.listenThrough) }
        let old = try DatabaseQueue()
        try Migrations.migrator.migrate(old, upTo: "0001_ledger_bronze_silver")
        #expect(throws: ReportError.goldMissing) {
            try old.read { db in try Reports.run(.listenThrough, options: ReportOptions(), in: db) }
        }
    }

    @Test("every report runs on a read-only connection and renders in every format")
    func readOnly() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "gold-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("podpipe.sqlite").path
        do {
            let world = try SilverWorld(path: path)
            try world.reference(
                users: ["u1": .init(signup: "2024-01-15", country: "DE")],
                episodes: ["ep_1": .init(podcast: "p", title: "One", release: "2024-01-01", duration: 1000)])
            for n in 1...3 {
                try world.event("u1", "ep_\(n)", "complete", on: "2024-03-0\(n)", duration: 800)
            }
            try world.refresh()
        }
        var configuration = Configuration()
        configuration.readonly = true
        let reader = try DatabaseQueue(path: path, configuration: configuration)
        for kind in ReportKind.allCases {
            for options in [ReportOptions(), ReportOptions(asOf: "2024-03-02"), ReportOptions(byDay: true)] {
                let table = try reader.read { db in try Reports.run(kind, options: options, in: db) }
                #expect(!table.columns.isEmpty)
                for row in table.rows { #expect(row.count == table.columns.count) }
                for format in ReportFormat.allCases {
                    #expect(ReportRenderer.render(table, as: format).hasSuffix("\n"))
                }
            }
        }
    }
}
