import Foundation
import GRDB

/// One section of the HTML report (`podpipectl report html`): a report, how it is titled
/// and defined, its charts, and whether its numbers show as a table or as one figure.
/// A further report on the page is one more entry in ``HTMLReport/sections``.
public struct HTMLReportSection: Sendable, Equatable {
    /// How the table's numbers are shown.
    public enum Body: Sendable, Equatable {
        /// The whole table (folded behind "all N rows" under a chart when it is long).
        case table
        /// One number in large type (a one-row report): the value of `column` in row 0,
        /// followed by `unit`.
        case figure(column: String, unit: String)
    }

    /// A chart drawn from the table's columns (named as in `--format json`). A chart
    /// whose columns are missing, or whose values are all 0, is not drawn.
    public enum Chart: Sendable, Equatable {
        /// Horizontal bars of `value`, one per row (at most `limit`), labelled by `label`
        /// (with `detail` in parentheses when both are non-empty); rates as percentages.
        /// `largest`: the `limit` rows with the largest values, largest first (for a report
        /// ordered by its keys); otherwise the first `limit` rows in the report's order.
        case bars(
            label: String, detail: String?, value: String, percent: Bool, limit: Int, largest: Bool = false)
        /// Lines of the `series` columns over `x` (`YYYY-MM-DD` days: spaced by date).
        case lines(x: String, series: [String])
        /// A heat-map table: one row per distinct `row` value (with its `size`), one column
        /// per `column` number, of the rows whose `filter.column` is `filter.value`; each cell
        /// is `value` (a rate) as a percentage, shaded by it.
        case heatMap(
            row: String, size: String, filter: Filter, column: String, columnPrefix: String,
            value: String)
    }

    /// Rows of a table whose `column` holds the text `value`.
    public struct Filter: Sendable, Equatable {
        public var column: String
        public var value: String
    }

    /// The report; its raw value is the section's `id` and its `data-report` attribute.
    public var kind: ReportKind
    /// The heading.
    public var title: String
    /// What the numbers mean (grain, window), one or two sentences.
    public var definition: String
    public var charts: [Chart]
    public var body: Body

    public init(kind: ReportKind, title: String, definition: String, charts: [Chart], body: Body = .table) {
        self.kind = kind
        self.title = title
        self.definition = definition
        self.charts = charts
        self.body = body
    }
}

/// The HTML report: one self-contained page (inline CSS and SVG, no script, nothing fetched
/// when it is viewed) with the reports' numbers and charts, readable on a phone.
///
/// Every number on the page is a cell of the same ``ReportTable`` that
/// `podpipectl report KIND --format json` prints (``gather(_:options:in:)`` runs
/// ``Reports/run(_:options:in:)``; the renderer runs no SQL). Each is marked with
/// `data-report`, `data-row` and `data-col` (``HTMLMark``); where the text shown is rounded
/// (a percentage on a chart or in the heat map) `data-value` holds the exact value.
public enum HTMLReport {
    /// The sections of the page, in order: the three answers of SPEC §5, then daily
    /// activity, episodes, cohorts, engagement by length, podcast metrics.
    public static let sections: [HTMLReportSection] = [
        HTMLReportSection(
            kind: .topEpisodes, title: "Top episodes, 7 days",
            definition:
                "The 10 episodes with the most completions over the 7 UTC days ending on the date of the latest event (or --as-of); ties by episode id.",
            charts: [
                .bars(label: "title", detail: "episode_id", value: "completions", percent: false, limit: 10)
            ]),
        HTMLReportSection(
            kind: .listenThrough, title: "Listen-through by country",
            definition:
                "Average listen-through rate (listened seconds ÷ episode length, over complete events) by the listener's country; may exceed 100 %.",
            charts: [
                .bars(
                    label: "country", detail: nil, value: "avg_listen_through_rate", percent: true, limit: 250
                )
            ]),
        HTMLReportSection(
            kind: .multiEpisodeUsers, title: "Multi-episode listeners",
            definition:
                "Distinct users who listened to 3 or more different episodes on at least one UTC day.",
            charts: [], body: .figure(column: "users", unit: "users")),
        HTMLReportSection(
            kind: .dailyActivity, title: "Daily activity",
            definition:
                "Plays and completions per UTC day with events; the table has every event type and active users.",
            charts: [.lines(x: "day", series: ["plays", "completions"])]),
        HTMLReportSection(
            kind: .episodePerformance, title: "Episode performance",
            definition:
                "Per episode: plays, completions, completion rate (completions ÷ plays), unique listeners, average listen-through rate.",
            charts: [
                .bars(label: "title", detail: "episode_id", value: "completions", percent: false, limit: 10)
            ]),
        HTMLReportSection(
            kind: .cohortRetention, title: "Cohort retention",
            definition:
                "Share of each signup month's users active in month N after signup (month 0 = the signup month). Weeks are in the table.",
            charts: [
                .heatMap(
                    row: "cohort_month", size: "cohort_users",
                    filter: .init(column: "period", value: "month"),
                    column: "period_number", columnPrefix: "M", value: "retention_rate")
            ]),
        HTMLReportSection(
            kind: .engagementByLength, title: "Engagement by episode length",
            definition:
                "Completion rate by episode length bucket; 'unknown' for episodes missing from the reference data.",
            charts: [
                .bars(label: "length_bucket", detail: nil, value: "completion_rate", percent: true, limit: 20)
            ]),
        HTMLReportSection(
            kind: .podcastMetrics, title: "Podcast metrics, 7 days",
            definition:
                "Per episode over the 7 UTC days ending on the date of the latest event (or --as-of): plays, listeners (> 0 s), engaged listeners (≥ 20 min or ≥ 40 % in a session), qualified plays (≥ 60 s a day), time listened, average consumption. Definitions: doc/analysts.md.",
            charts: [
                .bars(
                    label: "title", detail: "episode_id", value: "listeners", percent: false, limit: 10,
                    largest: true)
            ]),
    ]

    /// How many SVG charts (bars and lines; heat maps are tables) `sections` draw when
    /// every report has rows.
    public static func svgChartCount(_ sections: [HTMLReportSection] = sections) -> Int {
        sections.flatMap(\.charts).filter {
            switch $0 {
            case .bars, .lines: true
            case .heatMap: false
            }
        }.count
    }

    /// A section with its table.
    public struct Part: Sendable, Equatable {
        public var section: HTMLReportSection
        public var table: ReportTable
    }

    /// Everything the page shows.
    public struct Page: Sendable, Equatable {
        /// When the page was made (shown in its header).
        public var generatedAt: Date
        /// `pipeline_state`'s `gold.refreshed_at`.
        public var goldRefreshedAt: String?
        /// The `--as-of` date of the top-episodes window, if given.
        public var asOf: String?
        public var parts: [Part]
    }

    /// Runs every section's report in one read transaction (one snapshot of gold).
    ///
    /// - Throws: ``ReportError`` (invalid `--as-of`, gold missing or never refreshed) and
    ///   database errors, as ``Reports/run(_:options:in:)``.
    public static func gather(
        _ sections: [HTMLReportSection] = sections, options: ReportOptions, generatedAt: Date = Date(),
        in db: Database
    ) throws -> Page {
        try gather(sections, options: options, generatedAt: generatedAt, on: SQLiteQueries(db: db))
    }

    /// The same through the read seam (SQLite or PostgreSQL), in the caller's snapshot.
    static func gather(
        _ sections: [HTMLReportSection] = sections, options: ReportOptions, generatedAt: Date = Date(),
        on store: some QueryRunner
    ) throws -> Page {
        var parts: [Part] = []
        for section in sections {
            parts.append(
                Part(section: section, table: try Reports.run(section.kind, options: options, on: store)))
        }
        return Page(
            generatedAt: generatedAt, goldRefreshedAt: try store.pipelineState(.goldRefreshedAt),
            asOf: options.asOf, parts: parts)
    }

    /// The page as one HTML document (UTF-8 text).
    public static func render(_ page: Page) -> String {
        var html = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="generator" content="podpipectl report html">
            <title>podpipe report</title>
            <style>
            \(style)</style>
            </head>
            <body>
            <main>
            <header>
            <h1>podpipe report</h1>

            """
        var facts = ["generated \(GoldClock.iso8601(page.generatedAt))"]
        if let refreshed = page.goldRefreshedAt { facts.append("gold refreshed \(refreshed)") }
        facts.append(
            page.asOf.map { "top episodes: the 7 days ending \($0)" }
                ?? "top episodes: the 7 days ending on the latest event's date")
        html += "<p class=\"meta\">" + facts.map(HTMLText.escape).joined(separator: " · ") + "</p>\n"
        html += "<nav>"
        html += page.parts.map {
            "<a href=\"#\(HTMLText.escape($0.section.kind.rawValue))\">\(HTMLText.escape($0.section.title))</a>"
        }.joined(separator: " ")
        html += "</nav>\n</header>\n"
        if let activity = page.parts.first(where: { $0.section.kind == .dailyActivity }),
            activity.table.rows.isEmpty
        {
            html +=
                "<p class=\"notice\" id=\"no-events\">No events have been loaded yet: gold is refreshed but empty, so there is nothing to chart. Drop event files into the folder; the page shows them once podpiped has loaded them and refreshed gold.</p>\n"
        }
        for part in page.parts { html += section(part) }
        html += "</main>\n</body>\n</html>\n"
        return html
    }

    // MARK: - Sections

    static func section(_ part: Part) -> String {
        let section = part.section
        let table = part.table
        let id = section.kind.rawValue
        var html = "<section id=\"\(HTMLText.escape(id))\">\n<h2>\(HTMLText.escape(section.title))</h2>\n"
        html += "<p class=\"definition\">\(HTMLText.escape(section.definition))</p>\n"
        if table.rows.isEmpty {
            return html
                + "<p class=\"empty\" data-empty=\"\(HTMLText.escape(id))\">No rows yet.</p>\n</section>\n"
        }
        var drawn = 0
        for chart in section.charts {
            if let markup = self.chart(chart, table: table, report: id, caption: section.title) {
                html += "<figure>\n" + markup + "</figure>\n"
                drawn += 1
            }
        }
        switch section.body {
        case .figure(let column, let unit):
            if let index = table.columns.firstIndex(of: column), let value = table.rows.first?[index] {
                let mark = HTMLMark(report: id, row: 0, column: column)
                html +=
                    "<p class=\"figure\"><span class=\"big\"\(mark.attributes)>\(HTMLText.escape(ReportRenderer.plain(value)))</span> \(HTMLText.escape(unit))</p>\n"
            } else {
                html += tableMarkup(table, report: id)
            }
        case .table:
            let markup = tableMarkup(table, report: id)
            if drawn > 0, table.rows.count > foldAfter {
                html += "<details>\n<summary>All \(table.rows.count) rows</summary>\n\(markup)</details>\n"
            } else {
                html += markup
            }
        }
        return html + "</section>\n"
    }

    /// Tables longer than this are folded under their chart.
    static let foldAfter = 12

    /// The table, every cell marked with its row and column.
    static func tableMarkup(_ table: ReportTable, report: String) -> String {
        var html = "<div class=\"scroll\"><table>\n<thead><tr>"
        html += table.columns.map { "<th>\(HTMLText.escape($0))</th>" }.joined()
        html += "</tr></thead>\n<tbody>\n"
        for (rowIndex, row) in table.rows.enumerated() {
            html += "<tr>"
            for (column, value) in zip(table.columns, row) {
                let mark = HTMLMark(report: report, row: rowIndex, column: column)
                let numeric: Bool
                switch value {
                case .integer, .real: numeric = true
                case .null, .text: numeric = false
                }
                html +=
                    "<td\(numeric ? " class=\"num\"" : "")\(mark.attributes)>\(HTMLText.escape(ReportRenderer.plain(value)))</td>"
            }
            html += "</tr>\n"
        }
        return html + "</tbody>\n</table></div>\n"
    }

    // MARK: - Charts

    /// A chart's markup, or nil when a column is missing or there is nothing above 0.
    static func chart(_ chart: HTMLReportSection.Chart, table: ReportTable, report: String, caption: String)
        -> String?
    {
        switch chart {
        case .bars(let label, let detail, let value, let percent, let limit, let largest):
            guard let labelIndex = table.columns.firstIndex(of: label),
                let valueIndex = table.columns.firstIndex(of: value)
            else { return nil }
            let detailIndex = detail.flatMap { table.columns.firstIndex(of: $0) }
            var bars: [SVGChart.Bar] = []
            var rowIndexes = Array(table.rows.indices)
            if largest {
                // Largest first; equal values keep the report's order (a stable sort).
                let values: [Double] = table.rows.map { finite(number($0[valueIndex])) }
                rowIndexes.sort { (left: Int, right: Int) -> Bool in
                    values[left] != values[right] ? values[left] > values[right] : left < right
                }
            }
            for rowIndex in rowIndexes.prefix(max(0, limit)) {
                let row = table.rows[rowIndex]
                let name = ReportRenderer.plain(row[labelIndex])
                let extra = detailIndex.map { ReportRenderer.plain(row[$0]) } ?? ""
                let text = name.isEmpty ? extra : (extra.isEmpty ? name : "\(name) (\(extra))")
                let cell = row[valueIndex]
                let exact = ReportRenderer.plain(cell)
                bars.append(
                    SVGChart.Bar(
                        label: text.isEmpty ? "(none)" : text, value: number(cell),
                        text: percent ? percentText(number(cell)) : exact,
                        mark: HTMLMark(
                            report: report, row: rowIndex, column: value, value: percent ? exact : nil)))
            }
            guard bars.contains(where: { $0.value > 0 && $0.value.isFinite }) else { return nil }
            return SVGChart.bars(bars, caption: caption + ": " + value)
                + "<figcaption>\(HTMLText.escape(value))\(percent ? " (%)" : "")</figcaption>\n"
        case .lines(let x, let seriesColumns):
            guard let xIndex = table.columns.firstIndex(of: x) else { return nil }
            let indexes = seriesColumns.compactMap { table.columns.firstIndex(of: $0) }
            guard indexes.count == seriesColumns.count, !indexes.isEmpty else { return nil }
            let labels = table.rows.map { ReportRenderer.plain($0[xIndex]) }
            let days = labels.map { GoldClock.parseDay($0).map(Double.init) }
            // Dates spaced by date (a day without events is a gap); anything else by row.
            let xs: [Double] =
                days.allSatisfy { $0 != nil } ? days.map { $0 ?? 0 } : labels.indices.map(Double.init)
            let series = zip(seriesColumns, indexes).map { name, index in
                SVGChart.Series(name: name, values: table.rows.map { number($0[index]) })
            }
            guard series.contains(where: { $0.values.contains { $0 > 0 && $0.isFinite } }) else { return nil }
            var legend = "<figcaption>"
            for (index, line) in series.enumerated() {
                legend +=
                    "<span class=\"key\" style=\"background:\(SVGChart.colors[index % SVGChart.colors.count])\"></span>\(HTMLText.escape(line.name)) "
            }
            legend += "</figcaption>\n"
            return SVGChart.lines(xs: xs, xLabels: labels, series: series, caption: caption) + legend
        case .heatMap(let row, let size, let filter, let column, let prefix, let value):
            return heatMap(
                table, report: report, row: row, size: size, filter: filter, column: column, prefix: prefix,
                value: value)
        }
    }

    /// The heat-map table (see ``HTMLReportSection/Chart/heatMap``): rows in order of first
    /// appearance, columns the distinct numbers in ascending order, a cell per table row.
    static func heatMap(
        _ table: ReportTable, report: String, row: String, size: String, filter: HTMLReportSection.Filter,
        column: String, prefix: String, value: String
    ) -> String? {
        guard let rowIndex = table.columns.firstIndex(of: row),
            let sizeIndex = table.columns.firstIndex(of: size),
            let filterIndex = table.columns.firstIndex(of: filter.column),
            let columnIndex = table.columns.firstIndex(of: column),
            let valueIndex = table.columns.firstIndex(of: value)
        else { return nil }
        var rowKeys: [String] = []
        var firstRow: [String: Int] = [:]
        var cells: [String: [Int64: Int]] = [:]
        var periods = Set<Int64>()
        for (index, values) in table.rows.enumerated() where values[filterIndex] == .text(filter.value) {
            guard case .integer(let period) = values[columnIndex] else { continue }
            let key = ReportRenderer.plain(values[rowIndex])
            if firstRow[key] == nil {
                firstRow[key] = index
                rowKeys.append(key)
            }
            cells[key, default: [:]][period] = index
            periods.insert(period)
        }
        guard !rowKeys.isEmpty else { return nil }
        let columns = periods.sorted()
        var html = "<div class=\"scroll\"><table class=\"heat\">\n<thead><tr><th>\(HTMLText.escape(row))</th>"
        html += "<th>\(HTMLText.escape(size))</th>"
        html += columns.map { "<th>\(HTMLText.escape(prefix))\($0)</th>" }.joined()
        html += "</tr></thead>\n<tbody>\n"
        for key in rowKeys {
            let first = firstRow[key] ?? 0
            let sizeMark = HTMLMark(report: report, row: first, column: size)
            html += "<tr><th>\(HTMLText.escape(key))</th>"
            html +=
                "<td class=\"num\"\(sizeMark.attributes)>\(HTMLText.escape(ReportRenderer.plain(table.rows[first][sizeIndex])))</td>"
            for period in columns {
                guard let index = cells[key]?[period] else {
                    html += "<td class=\"none\"></td>"
                    continue
                }
                let cell = table.rows[index][valueIndex]
                let rate = number(cell)
                let mark = HTMLMark(
                    report: report, row: index, column: value, value: ReportRenderer.plain(cell))
                html +=
                    "<td style=\"\(heatStyle(rate))\"\(mark.attributes)>\(HTMLText.escape(percentText(rate, decimals: 0)))</td>"
            }
            html += "</tr>\n"
        }
        return html + "</tbody>\n</table></div>\n"
    }

    /// The shade of a heat-map cell: the first chart colour, more opaque for a higher rate
    /// (0 → 0.08, 1 or more → 1); white text on the darker half.
    static func heatStyle(_ rate: Double) -> String {
        let share = rate.isFinite ? min(max(rate, 0), 1) : 0
        let alpha = 0.08 + 0.92 * share
        return "background:rgba(43,108,176,\(ReportRenderer.fixed(alpha, decimals: 2)))"
            + (alpha > 0.5 ? ";color:#fff" : "")
    }

    /// A cell as a number for a chart (text and NULL: 0).
    static func finite(_ value: Double) -> Double { value.isFinite ? value : 0 }

    static func number(_ value: ReportValue) -> Double {
        switch value {
        case .integer(let number): Double(number)
        case .real(let number, _): number
        case .null, .text: 0
        }
    }

    /// A rate as a percentage ("94.9%"); not finite: "–".
    static func percentText(_ rate: Double, decimals: Int = 1) -> String {
        rate.isFinite ? ReportRenderer.fixed(rate * 100, decimals: decimals) + "%" : "–"
    }

    /// The page's style. Text, links and rules use a darker blue than the charts
    /// (SVGChart.colors[0]), so that the chart colour on a screenshot is the charts'.
    static let style = """
        :root { color-scheme: light; }
        body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1a202c; background: #fff; }
        main { max-width: 960px; margin: 0 auto; padding: 12px; }
        h1 { font-size: 1.5em; margin: 0.2em 0; }
        h2 { font-size: 1.2em; margin: 1.6em 0 0.3em; border-bottom: 2px solid #2c5282; padding-bottom: 0.15em; }
        .meta, .definition, figcaption { color: #4a5568; font-size: 0.9em; }
        nav a { display: inline-block; margin: 0 0.8em 0.3em 0; color: #2c5282; }
        .notice { background: #fffbea; border: 1px solid #d69e2e; padding: 0.6em 0.8em; border-radius: 4px; }
        .empty { color: #718096; font-style: italic; }
        figure { margin: 0.6em 0; }
        svg.chart { display: block; width: 100%; max-width: 560px; height: auto; }
        svg.chart text { font-size: 12px; fill: #2d3748; }
        svg.chart text.value { fill: #1a202c; font-weight: 600; }
        svg.chart text.axis { font-size: 11px; fill: #718096; }
        svg.chart .grid { stroke: #e2e8f0; stroke-width: 1; }
        .key { display: inline-block; width: 0.8em; height: 0.8em; margin: 0 0.3em 0 0.6em; border-radius: 2px; }
        .figure .big { font-size: 2.6em; font-weight: 700; color: #2c5282; }
        .scroll { overflow-x: auto; max-width: 100%; }
        table { border-collapse: collapse; font-size: 0.85em; margin: 0.4em 0; }
        th, td { padding: 0.25em 0.6em; border-bottom: 1px solid #e2e8f0; text-align: left; white-space: nowrap; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        table.heat td { text-align: center; min-width: 2.6em; }
        table.heat td.none { background: #f7fafc; }
        details summary { cursor: pointer; color: #2c5282; margin: 0.4em 0; }

        """
}
