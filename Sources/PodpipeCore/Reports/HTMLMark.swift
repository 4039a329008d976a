/// Where a number shown on the HTML report comes from: the report (its `ReportKind` raw
/// value), the row of its ``ReportTable`` and the column. Written as `data-report`,
/// `data-row` and `data-col` attributes of an element that holds only text, so that a test
/// or a script finds every number of the page in `podpipectl report KIND --format json`.
/// Where the text shown is a rounded form (a percentage on a chart, a heat-map cell),
/// `data-value` holds the exact value as `--format json` writes it; otherwise the element's
/// text is the value itself (text shown as ``HTMLText`` writes it: controls made visible).
public struct HTMLMark: Sendable, Equatable {
    public var report: String
    public var row: Int
    public var column: String
    /// The exact value when the text shown is rounded; nil when the text is the value.
    public var value: String?

    public init(report: String, row: Int, column: String, value: String? = nil) {
        self.report = report
        self.row = row
        self.column = column
        self.value = value
    }

    /// The attributes, each with a leading space.
    var attributes: String {
        var text =
            " data-report=\"\(HTMLText.escape(report))\" data-row=\"\(row)\" data-col=\"\(HTMLText.escape(column))\""
        if let value { text += " data-value=\"\(HTMLText.escape(value))\"" }
        return text
    }

    /// A mark read back from a page, with the element's text.
    public struct Found: Sendable, Equatable {
        public var mark: HTMLMark
        /// The element's text, character references decoded.
        public var text: String
    }

    /// Every marked element of `html`: the page as written, or as a browser serializes its
    /// DOM (`chromium --dump-dom`: attributes double-quoted, in order; `&amp;`, `&lt;`,
    /// `&gt;`, `&quot;`, `&nbsp;` and numeric references decoded).
    public static func scan(_ html: String) -> [Found] {
        var found: [Found] = []
        for piece in html.split(separator: "<", omittingEmptySubsequences: true) {
            guard let close = piece.firstIndex(of: ">") else { continue }
            let tag = piece[..<close]
            guard let report = attribute("data-report", in: tag),
                let row = attribute("data-row", in: tag).flatMap({ Int($0) }),
                let column = attribute("data-col", in: tag)
            else { continue }
            found.append(
                Found(
                    mark: HTMLMark(
                        report: report, row: row, column: column, value: attribute("data-value", in: tag)),
                    text: decode(piece[piece.index(after: close)...])))
        }
        return found
    }

    /// The value of the double-quoted attribute `name` in a tag's text, decoded.
    static func attribute(_ name: String, in tag: Substring) -> String? {
        guard let range = tag.range(of: " \(name)=\"") else { return nil }
        let rest = tag[range.upperBound...]
        return rest.firstIndex(of: "\"").map { decode(rest[..<$0]) }
    }

    /// `text` with the character references HTML serializers write decoded.
    static func decode(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var out = ""
        var rest = text
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            let after = rest[amp...]
            guard let semicolon = after.firstIndex(of: ";"), after.distance(from: amp, to: semicolon) <= 10
            else {
                out += "&"
                rest = rest[rest.index(after: amp)...]
                continue
            }
            let name = after[after.index(after: amp)..<semicolon]
            let named: [Substring: String] = [
                "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{a0}",
            ]
            if let character = named[name] {
                out += character
            } else if name.hasPrefix("#x") || name.hasPrefix("#X"),
                let code = UInt32(name.dropFirst(2), radix: 16),
                let scalar = Unicode.Scalar(code)
            {
                out.unicodeScalars.append(scalar)
            } else if name.hasPrefix("#"), let code = UInt32(name.dropFirst()),
                let scalar = Unicode.Scalar(code)
            {
                out.unicodeScalars.append(scalar)
            } else {
                out += after[...semicolon]
            }
            rest = rest[rest.index(after: semicolon)...]
        }
        return out + rest
    }
}
