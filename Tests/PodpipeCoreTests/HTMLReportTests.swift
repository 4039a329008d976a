import Foundation
import GRDB
import Testing

@testable import PodpipeCore

@Suite("HTML report rendering")
struct HTMLReportTests {
    static let hostileTitle = "<script>alert(1)</script>"
    static let hostileId = "\"><img src=x onerror=alert(2)>"

    /// A page from hand-made tables (no database): one section per kind of body and chart.
    static func page(top rows: [[ReportValue]]) -> HTMLReport.Page {
        let top = ReportTable(
            columns: ["rank", "episode_id", "title", "podcast_id", "completions"], rows: rows)
        let countries = ReportTable(
            columns: ["country", "avg_listen_through_rate", "completions"],
            rows: [
                [.text("DE"), .real(0.75, decimals: 6), .integer(3)],
                [.text("FR"), .real(1.5, decimals: 6), .integer(1)],
            ])
        let multi = ReportTable(columns: ["users"], rows: [[.integer(7)]])
        let sections = HTMLReport.sections
        func section(_ kind: ReportKind) -> HTMLReportSection {
            sections.first { $0.kind == kind }
                ?? HTMLReportSection(kind: kind, title: "", definition: "", charts: [])
        }
        return HTMLReport.Page(
            generatedAt: Date(timeIntervalSince1970: 1_700_000_000), goldRefreshedAt: "2024-04-01T00:00:00Z",
            asOf: nil,
            parts: [
                .init(section: section(.topEpisodes), table: top),
                .init(section: section(.listenThrough), table: countries),
                .init(section: section(.multiEpisodeUsers), table: multi),
            ])
    }

    @Test("HTML escaping: markup characters as references, controls made visible")
    func escaping() {
        #expect(
            HTMLText.escape(#"<a href="x">Tom & Jerry's</a>"#)
                == "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;")
        #expect(HTMLText.escape("plain title, ok") == "plain title, ok")
        #expect(HTMLText.escape("\u{1b}[2Jgone") == "\\x1b[2Jgone")
        #expect(HTMLText.escape("abc\u{202e}def") == "abc\\u{202e}def")
        #expect(HTMLText.escape("a\nb") == "a\\nb")
    }

    @Test("a hostile title or id shows as text: no tag or attribute of the page comes from a value")
    func hostileValuesAreText() {
        let html = HTMLReport.render(
            Self.page(top: [
                [.integer(1), .text(Self.hostileId), .text(Self.hostileTitle), .text("p&q"), .integer(5)]
            ]))
        #expect(!html.contains("<script"))
        #expect(!html.contains("<img"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"))
        #expect(html.contains("p&amp;q"))
        // Every tag of the page is one the renderer writes.
        let allowed: Set<String> = [
            "!doctype", "html", "head", "meta", "title", "style", "body", "main", "header", "h1", "h2", "p",
            "nav",
            "a", "section", "figure", "figcaption", "svg", "text", "rect", "line", "polyline", "circle",
            "span",
            "div", "table", "thead", "tbody", "tr", "th", "td", "details", "summary",
        ]
        var tags = Set<String>()
        var rest = Substring(html)
        while let open = rest.firstIndex(of: "<") {
            let after = rest[rest.index(after: open)...]
            let name = after.drop { $0 == "/" }.prefix { $0.isLetter || $0.isNumber || $0 == "!" }
            tags.insert(name.lowercased())
            rest = after
        }
        #expect(tags.isSubset(of: allowed), "\(tags.subtracting(allowed))")
    }

    @Test("every cell of every table is on the page, marked with its report, row and column")
    func everyNumberIsMarked() throws {
        let page = Self.page(top: [
            [.integer(1), .text("ep_1"), .text("One"), .text("p1"), .integer(9)],
            [.integer(2), .text("ep_2"), .text(""), .null, .integer(4)],
        ])
        let html = HTMLReport.render(page)
        let found = HTMLMark.scan(html)
        let marks = found.map(\.mark)
        for part in page.parts {
            let report = part.section.kind.rawValue
            var covered = Set<String>()
            for (mark, text) in zip(marks, found.map(\.text)) where mark.report == report {
                let row = try #require(
                    part.table.rows.indices.contains(mark.row) ? part.table.rows[mark.row] : nil)
                let column = try #require(part.table.columns.firstIndex(of: mark.column))
                let exact = ReportRenderer.plain(row[column])
                if let value = mark.value {
                    #expect(value == exact, "\(report) \(mark.row) \(mark.column)")
                } else {
                    #expect(text == exact, "\(report) \(mark.row) \(mark.column)")
                    covered.insert("\(mark.row)|\(mark.column)")
                }
            }
            let all = part.table.rows.indices.flatMap { row in part.table.columns.map { "\(row)|\($0)" } }
            #expect(covered == Set(all), "\(report): every cell shown as it is")
        }
        // The figure of a one-row report, and the rounded label of a rate with its exact value.
        #expect(found.contains { $0.mark.report == "multi-episode-users" && $0.text == "7" })
        #expect(
            found.contains {
                $0.mark.report == "listen-through" && $0.text == "150.0%" && $0.mark.value == "1.500000"
            })
        #expect(HTMLMark.decode("a&amp;b &lt;&#39;&#x41;&nbsp;&bogus; & x") == "a&b <'A\u{a0}&bogus; & x")
    }

    @Test(
        "bar geometry: the largest value fills the length, the others in proportion; nothing else grows a bar"
    )
    func barGeometry() {
        #expect(SVGChart.barLengths([2, 4, 1], length: 400) == [200, 400, 100])
        #expect(SVGChart.barLengths([-3, .nan, .infinity, 5], length: 10) == [0, 0, 0, 10])
        #expect(SVGChart.barLengths([0, 0], length: 10) == [0, 0])
        #expect(SVGChart.barLengths([], length: 10) == [])
        let svg = SVGChart.bars(
            [
                .init(label: "a", value: 2, text: "2"), .init(label: "b", value: 4, text: "4"),
                .init(label: "c", value: 1, text: "1"),
            ], caption: "t")
        let widths = PageMarks.attributeValues("width", of: "rect", in: svg)
        let room = SVGChart.width - 72
        #expect(widths == [room / 2, room, room / 4].map { SVGChart.coordinate($0) })
        #expect(svg.contains("viewBox=\"0 0 400.0 118.0\""))
    }

    @Test("line geometry: x spread over the frame by value, y from the bottom (0) to the top (the largest)")
    func lineGeometry() {
        let frame = SVGChart.Frame(left: 10, right: 110, top: 0, bottom: 50)
        let points = SVGChart.linePoints(xs: [0, 1, 4], values: [0, 5, 10], maxValue: 10, frame: frame)
        #expect(points.map(\.x) == [10, 35, 110])
        #expect(points.map(\.y) == [50, 25, 0])
        let single = SVGChart.linePoints(xs: [7], values: [3], maxValue: 3, frame: frame)
        #expect(single.map(\.x) == [60])
        #expect(single.map(\.y) == [0])
        let odd = SVGChart.linePoints(xs: [0, 1], values: [.nan, -1], maxValue: 0, frame: frame)
        #expect(odd.map(\.y) == [50, 50])
        let svg = SVGChart.lines(
            xs: [0, 1, 4], xLabels: ["2024-01-01", "2024-01-02", "2024-01-05"],
            series: [.init(name: "plays", values: [0, 5, 10])], caption: "c")
        #expect(svg.contains("points=\"40.0,194.0 128.0,102.0 392.0,10.0\""))
        #expect(svg.contains(">2024-01-01</text>") && svg.contains(">2024-01-05</text>"))
    }

    @Test("heat map: one row per cohort, one column per month number, shaded by the rate")
    func heatMap() throws {
        let table = ReportTable(
            columns: [
                "cohort_month", "cohort_users", "period", "period_number", "active_users", "retention_rate",
            ],
            rows: [
                [
                    .text("2024-01"), .integer(4), .text("month"), .integer(0), .integer(4),
                    .real(1, decimals: 6),
                ],
                [
                    .text("2024-01"), .integer(4), .text("month"), .integer(2), .integer(1),
                    .real(0.25, decimals: 6),
                ],
                [
                    .text("2024-01"), .integer(4), .text("week"), .integer(1), .integer(2),
                    .real(0.5, decimals: 6),
                ],
                [
                    .text("2024-02"), .integer(2), .text("month"), .integer(0), .integer(1),
                    .real(0.5, decimals: 6),
                ],
            ])
        let section = try #require(HTMLReport.sections.first { $0.kind == .cohortRetention })
        let chart = try #require(section.charts.first)
        let html = try #require(
            HTMLReport.chart(chart, table: table, report: "cohort-retention", caption: "c"))
        #expect(html.contains("<th>M0</th><th>M2</th></tr>"))
        #expect(!html.contains("<th>M1</th>"), "weeks are not months")
        #expect(html.components(separatedBy: "<tr><th>2024-").count - 1 == 2)
        #expect(html.contains("<td class=\"none\"></td>"), "February has no month 2")
        #expect(html.contains(HTMLReport.heatStyle(1) + "\" data-report=\"cohort-retention\" data-row=\"0\""))
        #expect(HTMLReport.heatStyle(1) == "background:rgba(43,108,176,1.00);color:#fff")
        #expect(HTMLReport.heatStyle(0) == "background:rgba(43,108,176,0.08)")
        #expect(HTMLReport.heatStyle(.nan) == HTMLReport.heatStyle(0))
        #expect(HTMLReport.heatStyle(7) == HTMLReport.heatStyle(1))
        #expect(html.contains(">25%</td>"))
    }

    @Test("largest-first bars: the rows with the largest values, each marked with its own row")
    func largestBars() throws {
        let table = ReportTable(
            columns: ["title", "episode_id", "listeners"],
            rows: [
                [.text("a"), .text("ep_a"), .integer(1)], [.text("b"), .text("ep_b"), .integer(7)],
                [.text("c"), .text("ep_c"), .integer(3)], [.text("d"), .text("ep_d"), .integer(7)],
            ])
        let chart = HTMLReportSection.Chart.bars(
            label: "title", detail: "episode_id", value: "listeners", percent: false, limit: 3, largest: true)
        let html = try #require(HTMLReport.chart(chart, table: table, report: "r", caption: "c"))
        let rows = PageMarks.attributeValues("data-row", of: "text", in: html)
        // 7 (row 1) and 7 (row 3) in the report's order, then 3 (row 2); row 0 left out.
        #expect(rows == ["1", "3", "2"])
        let first = HTMLReportSection.Chart.bars(
            label: "title", detail: "episode_id", value: "listeners", percent: false, limit: 3)
        let inOrder = try #require(HTMLReport.chart(first, table: table, report: "r", caption: "c"))
        #expect(PageMarks.attributeValues("data-row", of: "text", in: inOrder) == ["0", "1", "2"])
    }

    @Test("gold refreshed but no events: the page says so and draws no chart")
    func emptyDatabase() throws {
        let world = try SilverWorld()
        try world.reference(
            users: ["u1": .init(signup: "2024-01-01", country: "DE")],
            episodes: ["ep_1": .init(podcast: "p", title: "One", release: "2024-01-01", duration: 600)])
        try world.refresh()
        let page = try world.queue.read { db in try HTMLReport.gather(options: ReportOptions(), in: db) }
        let html = HTMLReport.render(page)
        #expect(html.contains("id=\"no-events\""))
        #expect(!html.contains("<svg"))
        #expect(!html.contains("class=\"heat\""))
        #expect(html.contains("data-empty=\"top-episodes\""))
        #expect(html.contains("data-empty=\"daily-activity\""))
    }

    @Test("every section's charts draw on a database with events; the ids are distinct")
    func everySectionDraws() throws {
        let world = try SilverWorld()
        try world.reference(
            users: [
                "u1": .init(signup: "2024-01-15", country: "DE"),
                "u2": .init(signup: "2024-02-03", country: "FR"),
            ],
            episodes: [
                "ep_1": .init(podcast: "p", title: Self.hostileTitle, release: "2024-01-01", duration: 1000),
                "ep_2": .init(podcast: "p", title: "Two", release: "2024-01-01", duration: 3000),
                "ep_3": .init(podcast: "q", title: "Three", release: "2024-01-01", duration: 6000),
            ])
        for (day, user) in [("2024-03-01", "u1"), ("2024-03-02", "u2"), ("2024-03-04", "u1")] {
            for episode in ["ep_1", "ep_2", "ep_3"] {
                try world.event(user, episode, "play", on: day)
                try world.event(user, episode, "complete", on: day, at: "13:00:00", duration: 900)
            }
        }
        try world.refresh()
        let page = try world.queue.read { db in try HTMLReport.gather(options: ReportOptions(), in: db) }
        #expect(Set(page.parts.map(\.section.kind)).count == page.parts.count)
        let html = HTMLReport.render(page)
        #expect(!html.contains("no-events"))
        #expect(!html.contains("<script"))
        for part in page.parts {
            for chart in part.section.charts {
                #expect(
                    HTMLReport.chart(
                        chart, table: part.table, report: part.section.kind.rawValue, caption: "") != nil,
                    "\(part.section.kind): \(chart)")
            }
        }
        #expect(html.components(separatedBy: "<svg").count - 1 == HTMLReport.svgChartCount())
        #expect(html.contains("class=\"heat\""))
        #expect(html.contains(#"<meta name="viewport" content="width=device-width, initial-scale=1">"#))
    }
}

extension HTMLReportTests {
    @Test("the page file is written whole: an old one replaced, no temporary left, a missing folder exits 73")
    func outputFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "html-out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("report.html").path
        try ReportOutput.write("old page, longer than the new one\n", to: path)
        try ReportOutput.write("<p>new</p>\n", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "<p>new</p>\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["report.html"])
        let missing = folder.appendingPathComponent("no/such/report.html").path
        let error = #expect(throws: ReportOutputError.self) { try ReportOutput.write("x", to: missing) }
        #expect(error.map(PodpipeExit.code(for:)) == 73)
        #expect(error?.description.contains(missing) == true)
    }
}

/// Reading a rendered chart's markup in tests.
enum PageMarks {
    /// The values of `attribute` on every `<element …>` of `markup`, as written.
    static func attributeValues(_ attribute: String, of element: String, in markup: String) -> [String] {
        markup.components(separatedBy: "<\(element) ").dropFirst().compactMap { piece in
            piece.firstIndex(of: ">").flatMap {
                HTMLMark.attribute(attribute, in: Substring(" " + piece[..<$0]))
            }
        }
    }
}
