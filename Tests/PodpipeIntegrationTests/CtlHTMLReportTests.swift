import Foundation
import PodpipeCore
import PodpipeSampleData
import Testing

// `podpipectl report html --out FILE` opened in headless Chromium (Debian's chromium): the
// page renders (a screenshot that is not blank, charts with geometry after layout, no
// sideways scrolling on a phone) and every number on it is the one of
// `podpipectl report KIND --format json`. Skipped, saying so, only when chromium is absent.

@Suite("podpipectl report html in headless Chromium")
struct CtlHTMLReportTests {
    /// A phone's viewport (CSS pixels) and a tall one to see several sections at once.
    static let phone = (412, 915)
    static let phoneTall = (412, 4_000)
    /// The chart colour (SVGChart.colors[0], #2b6cb0).
    static let barColor: (UInt8, UInt8, UInt8) = (0x2b, 0x6c, 0xb0)
    static let hostile = "<script>document.title='pwned'</script> & \"quoted\" <img src=x onerror=alert(1)>"

    /// Measures the page after layout into attributes `--dump-dom` shows: each chart's box,
    /// each bar's and line's bounding box, and the page's scroll width against the window's.
    /// Added to a copy of the page (the page itself has no script).
    static let probe = """
        <script>
        for (const svg of document.querySelectorAll('svg.chart')) {
          const box = svg.getBoundingClientRect();
          svg.setAttribute('data-probe', box.width + 'x' + box.height);
          for (const shape of svg.querySelectorAll('rect, polyline')) {
            const b = shape.getBBox();
            shape.setAttribute('data-probe', b.width + 'x' + b.height);
          }
        }
        document.documentElement.setAttribute('data-probe', document.documentElement.scrollWidth + 'x' + window.innerWidth);
        </script>
        """

    @Test(.enabled(if: Chromium.path != nil, Chromium.missing))
    func theReportRendersWithChartsAndTheNumbersOfTheJSONReports() throws {
        let box = try Sandbox()
        let manifest = try SampleDataGenerator.write(ctlSpec(), to: box.dataLoad)
        // Every episode retitled by a later reference file: titles from files are hostile.
        let episodes = (1...25).map {
            "ep_\($0),podcast_\($0 % 3),\"\(Self.hostile.replacingOccurrences(of: "\"", with: "\"\"")) \($0)\",2024-01-01,1800"
        }
        try box.drop(
            "episodes-zz.csv",
            "episode_id,podcast_id,title,release_date,duration_seconds\n" + episodes.joined(separator: "\n")
                + "\n",
            mtime: Date().timeIntervalSince1970 + 60)
        let load = try box.podpiped()
        #expect(load.status == 0, "\(load.stderr)")

        // A window end other than the latest event's date: --as-of reaches the page.
        let last = try #require(manifest.lastEventTimestamp)
        let asOf = Self.day(last - 10 * 86_400)
        let page = box.root.appendingPathComponent("report.html")
        let written = try box.ctl(["report", "html", "--as-of", asOf, "--out", page.path])
        #expect(written.status == 0, "\(written.stderr)")
        #expect(written.stdout.isEmpty)

        // (a) The screenshot on a phone is not blank and shows the bars' colour.
        let shot = try Chromium.screenshot(page, scratch: box.root, window: Self.phoneTall)
        #expect(shot.width == Self.phoneTall.0)
        #expect(!shot.looksBlank, "\(shot.content)")
        #expect(shot.count(near: Self.barColor) > 2_000, "chart bars painted")

        // (b) After layout every chart has a box, bars and lines have geometry, and the page
        // does not scroll sideways on a phone (wide tables scroll inside their frame).
        let probed = box.root.appendingPathComponent("probed.html")
        let html = try String(contentsOf: page, encoding: .utf8)
        try html.replacingOccurrences(of: "</body>", with: Self.probe + "</body>")
            .write(to: probed, atomically: true, encoding: .utf8)
        let laidOut = try Chromium.dumpDOM(probed, scratch: box.root, window: Self.phone)
        let charts = Self.probes(of: "svg", in: laidOut)
        #expect(charts.count == HTMLReport.svgChartCount(), "every bar and line chart")
        #expect(charts.allSatisfy { $0.width > 100 && $0.height > 50 }, "\(charts)")
        let bars = Self.probes(of: "rect", in: laidOut)
        #expect(
            bars.filter { $0.width > 0 && $0.height > 0 }.count >= 20, "bars with an area: \(bars.prefix(5))")
        let lines = Self.probes(of: "polyline", in: laidOut)
        #expect(lines.count >= 2 && lines.allSatisfy { $0.width > 0 && $0.height > 0 }, "\(lines)")
        // (The page's probe is its scroll width × the window's inner width.)
        let page412 = try #require(Self.probes(of: "html", in: laidOut).first)
        #expect(page412.width <= page412.height, "scroll width \(page412.width), window \(page412.height)")

        // (c) The DOM as Chromium parsed it: no script or image came from a title, and every
        // marked number is the one of `report KIND --format json`.
        let dom = try Chromium.dumpDOM(page, scratch: box.root, window: Self.phone)
        #expect(!dom.contains("<script"))
        #expect(!dom.contains("<img"))
        #expect(dom.contains("<title>podpipe report</title>"))
        let found = HTMLMark.scan(dom)
        for section in HTMLReport.sections {
            let report = section.kind.rawValue
            let json = try box.ctl(["report", report, "--as-of", asOf, "--format", "json"])
            #expect(json.status == 0, "\(json.stderr)")
            let rows = try #require(try jsonValue(json.stdout) as? [[String: Any]], "\(report)")
            var shown = Set<String>()
            for item in found where item.mark.report == report {
                let row = try #require(
                    rows.indices.contains(item.mark.row) ? rows[item.mark.row] : nil, "\(item)")
                let expected = try #require(row[item.mark.column], "\(report): column \(item.mark.column)")
                let text = item.mark.value ?? item.text
                #expect(
                    Self.same(text, expected),
                    "\(report) row \(item.mark.row) \(item.mark.column): \(text) vs \(expected)")
                if item.mark.value == nil { shown.insert("\(item.mark.row)|\(item.mark.column)") }
            }
            let every = rows.indices.flatMap { index in rows[index].keys.map { "\(index)|\($0)" } }
            #expect(shown == Set(every), "\(report): every cell of the JSON report is on the page")
            #expect(!rows.isEmpty, "\(report) has rows in this data")
        }
        // The hostile title is on the page as text, exactly as the terminal shows it.
        #expect(found.contains { $0.mark.column == "title" && $0.text.hasPrefix(Self.hostile) })
    }

    @Test(.enabled(if: Chromium.path != nil, Chromium.missing))
    func theBlankCheckFailsOnAnEmptyPage() throws {
        let box = try Sandbox()
        let empty = box.root.appendingPathComponent("empty.html")
        try "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body></body></html>\n".write(
            to: empty, atomically: true, encoding: .utf8)
        let shot = try Chromium.screenshot(empty, scratch: box.root, window: Self.phoneTall)
        #expect(shot.looksBlank, "\(shot.content)")
        #expect(shot.count(near: Self.barColor) == 0)

        // The report of a database with no events says so and draws no chart.
        try box.drop("users.csv", "user_id,signup_date,country\nu1,2024-01-01,DE\n")
        #expect(try box.podpiped().status == 0)
        let page = box.root.appendingPathComponent("report.html")
        #expect(try box.ctl(["report", "html", "--out", page.path]).status == 0)
        let dom = try Chromium.dumpDOM(page, scratch: box.root, window: Self.phone)
        #expect(dom.contains("id=\"no-events\""))
        #expect(!dom.contains("<svg"))
        let noEvents = try Chromium.screenshot(page, scratch: box.root, window: Self.phoneTall)
        #expect(!noEvents.looksBlank, "the page's text is there")
        #expect(noEvents.count(near: Self.barColor) < 100, "no bars: the chart colour is only the charts'")
    }

    @Test func htmlNeedsOutAndOtherReportsRefuseIt() throws {
        let box = try Sandbox()
        _ = try box.loadSample()
        #expect(try box.ctl(["report", "html"]).status == 64)
        #expect(try box.ctl(["report", "html", "--out", "x.html", "--format", "csv"]).status == 64)
        #expect(try box.ctl(["report", "top-episodes", "--out", "x.html"]).status == 64)
        let toStdout = try box.ctl(["report", "html", "--out", "-"])
        #expect(toStdout.status == 0)
        #expect(toStdout.stdout.hasPrefix("<!DOCTYPE html>"))
        let unwritable = try box.ctl(["report", "html", "--out", box.root.path + "/missing/report.html"])
        #expect(unwritable.status == 73)
        #expect(unwritable.stderr.contains("cannot write the report"))
        let bad = try box.ctl(["report", "html", "--as-of", "2024-02-30", "--out", box.root.path + "/r.html"])
        #expect(bad.status == 1)
        #expect(!FileManager.default.fileExists(atPath: box.root.path + "/r.html"))
    }

    // MARK: - Helpers

    static func day(_ timestamp: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(timestamp)))
    }

    /// The `data-probe="WxH"` of every `<element …>` of a dumped DOM.
    static func probes(of element: String, in dom: String) -> [(width: Double, height: Double)] {
        dom.components(separatedBy: "<\(element) ").dropFirst().compactMap { piece in
            guard let end = piece.firstIndex(of: ">"), let range = piece[..<end].range(of: "data-probe=\"")
            else {
                return nil
            }
            let value = piece[range.upperBound...].prefix { $0 != "\"" }.split(separator: "x")
            guard value.count == 2, let width = Double(value[0]), let height = Double(value[1]) else {
                return nil
            }
            return (width, height)
        }
    }

    /// A page's text against a JSON value: numbers numerically, text as the terminal (and
    /// the page) shows it, null as empty.
    static func same(_ text: String, _ value: Any) -> Bool {
        switch value {
        case is NSNull: return text.isEmpty
        case let string as String: return text == TerminalText.escape(string)
        case let number as NSNumber: return Double(text).map { $0 == number.doubleValue } ?? false
        default: return false
        }
    }
}
