import Foundation

/// The inline SVG charts of the HTML report: plain functions from numbers to markup (no
/// script, nothing fetched at view time). Coordinates are in a 400-unit-wide view box
/// scaled to the page's width, so a chart fits a phone and grows up to the CSS limit on a
/// wider screen. Geometry is separate from markup (``barLengths(_:length:)``,
/// ``linePoints(xs:values:maxValue:frame:)``) so that tests check it with known values.
enum SVGChart {
    /// The view box's width.
    static let width = 400.0
    /// The series colours (bars use the first).
    static let colors = ["#2b6cb0", "#dd6b20", "#38a169", "#805ad5"]

    /// One bar: its label, its value (the bar's length), the text shown after it.
    struct Bar: Sendable, Equatable {
        var label: String
        var value: Double
        var text: String
        var mark: HTMLMark?
    }

    /// One line of a line chart: a name (the legend) and one value per x.
    struct Series: Sendable, Equatable {
        var name: String
        var values: [Double]
    }

    /// The plotting area of a line chart, in view-box units.
    struct Frame: Sendable, Equatable {
        var left: Double
        var right: Double
        var top: Double
        var bottom: Double
    }

    /// The length of each bar: the largest value gets `length`, the others in proportion.
    /// A value that is negative, not finite, or when no value is above 0, gets 0 (no value
    /// from a file can make a bar longer than the chart).
    static func barLengths(_ values: [Double], length: Double) -> [Double] {
        let clean = values.map { $0.isFinite && $0 > 0 ? $0 : 0 }
        guard let largest = clean.max(), largest > 0 else { return clean.map { _ in 0 } }
        return clean.map { $0 / largest * length }
    }

    /// The points of one line: x spread from `frame.left` (the smallest x) to `frame.right`
    /// (the largest; a single x, or all equal, in the middle), y from `frame.bottom` (0) up
    /// to `frame.top` (`maxValue`); a value that is not finite or below 0 is drawn at 0.
    static func linePoints(xs: [Double], values: [Double], maxValue: Double, frame: Frame)
        -> [(x: Double, y: Double)]
    {
        let finiteXs = xs.filter(\.isFinite)
        let low = finiteXs.min() ?? 0
        let high = finiteXs.max() ?? 0
        return zip(xs, values).map { x, value in
            let px: Double
            if high > low, x.isFinite {
                px = frame.left + (x - low) / (high - low) * (frame.right - frame.left)
            } else {
                px = (frame.left + frame.right) / 2
            }
            let clean = value.isFinite && value > 0 ? value : 0
            let share = maxValue > 0 && maxValue.isFinite ? min(clean / maxValue, 1) : 0
            return (px, frame.bottom - share * (frame.bottom - frame.top))
        }
    }

    /// A coordinate with one decimal.
    static func coordinate(_ value: Double) -> String { ReportRenderer.fixed(value, decimals: 1) }

    /// `text` cut to `limit` characters, with an ellipsis when cut.
    static func clipped(_ text: String, to limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(max(0, limit - 1))) + "…"
    }

    /// A horizontal bar chart: per bar, its label on one line and the bar under it with its
    /// text after its end (long labels stay readable on a narrow screen).
    static func bars(_ bars: [Bar], caption: String) -> String {
        let rowHeight = 38.0
        let valueRoom = 72.0
        let lengths = barLengths(bars.map(\.value), length: width - valueRoom)
        let height = Double(bars.count) * rowHeight + 4
        var svg = openSVG(height: height, caption: caption)
        for (index, bar) in bars.enumerated() {
            let top = Double(index) * rowHeight
            let label = HTMLText.escape(clipped(bar.label, to: 56))
            svg += "<text class=\"label\" x=\"0\" y=\"\(coordinate(top + 12))\">\(label)</text>\n"
            svg +=
                "<rect class=\"bar\" x=\"0\" y=\"\(coordinate(top + 16))\" width=\"\(coordinate(lengths[index]))\" height=\"16\" fill=\"\(colors[0])\">"
                + "<title>\(HTMLText.escape(bar.label)): \(HTMLText.escape(bar.text))</title></rect>\n"
            svg +=
                "<text class=\"value\" x=\"\(coordinate(lengths[index] + 4))\" y=\"\(coordinate(top + 28))\"\(bar.mark?.attributes ?? "")>\(HTMLText.escape(bar.text))</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// A line chart of one or more series over the same xs (e.g. day numbers), with the
    /// first and last `xLabels` under the axis, the largest value on the y axis, and a dot
    /// per point when there are few enough to tell apart.
    static func lines(xs: [Double], xLabels: [String], series: [Series], caption: String) -> String {
        let height = 220.0
        let frame = Frame(left: 40, right: width - 8, top: 10, bottom: height - 26)
        let largest = series.flatMap(\.values).filter { $0.isFinite }.max() ?? 0
        var svg = openSVG(height: height, caption: caption)
        // Grid lines at 0, half and the largest value; labels at 0 and the largest.
        for share in [0.0, 0.5, 1.0] {
            let y = frame.bottom - share * (frame.bottom - frame.top)
            svg +=
                "<line class=\"grid\" x1=\"\(coordinate(frame.left))\" y1=\"\(coordinate(y))\" x2=\"\(coordinate(frame.right))\" y2=\"\(coordinate(y))\"/>\n"
            guard share != 0.5 else { continue }
            svg +=
                "<text class=\"axis\" x=\"\(coordinate(frame.left - 4))\" y=\"\(coordinate(y + 4))\" text-anchor=\"end\">\(HTMLText.escape(axisNumber(largest * share)))</text>\n"
        }
        if let first = xLabels.first, let last = xLabels.last {
            svg +=
                "<text class=\"axis\" x=\"\(coordinate(frame.left))\" y=\"\(coordinate(height - 8))\">\(HTMLText.escape(first))</text>\n"
            if xLabels.count > 1 {
                svg +=
                    "<text class=\"axis\" x=\"\(coordinate(frame.right))\" y=\"\(coordinate(height - 8))\" text-anchor=\"end\">\(HTMLText.escape(last))</text>\n"
            }
        }
        for (index, line) in series.enumerated() {
            let color = colors[index % colors.count]
            let points = linePoints(xs: xs, values: line.values, maxValue: largest, frame: frame)
            let list = points.map { "\(coordinate($0.x)),\(coordinate($0.y))" }.joined(separator: " ")
            svg +=
                "<polyline class=\"series\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(list)\"><title>\(HTMLText.escape(line.name))</title></polyline>\n"
            if points.count <= 62 {
                for point in points {
                    svg +=
                        "<circle cx=\"\(coordinate(point.x))\" cy=\"\(coordinate(point.y))\" r=\"2.5\" fill=\"\(color)\"/>\n"
                }
            }
        }
        return svg + "</svg>\n"
    }

    /// An axis label: an integer without decimals, else two decimals.
    static func axisNumber(_ value: Double) -> String {
        guard value.isFinite else { return "" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return ReportRenderer.fixed(value, decimals: 2)
    }

    private static func openSVG(height: Double, caption: String) -> String {
        "<svg class=\"chart\" viewBox=\"0 0 \(coordinate(width)) \(coordinate(height))\" width=\"100%\" role=\"img\" aria-label=\"\(HTMLText.escape(caption))\" xmlns=\"http://www.w3.org/2000/svg\">\n"
            + "<title>\(HTMLText.escape(caption))</title>\n"
    }
}
