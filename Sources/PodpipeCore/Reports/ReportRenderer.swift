import Foundation

/// Output formats of `podpipectl report … --format`.
public enum ReportFormat: String, CaseIterable, Sendable {
    /// Aligned columns with a header and a rule, for a terminal.
    case table
    /// SPEC §8: a header row, comma-separated, `\n` line ends, no padding, RFC 4180 quoting.
    case csv
    /// An array of objects keyed by column name; numbers as JSON numbers.
    case json
}

/// Renders a ``ReportTable`` as text. Every format ends with a newline.
public enum ReportRenderer {
    /// Renders `table` in `format`.
    public static func render(_ table: ReportTable, as format: ReportFormat) -> String {
        switch format {
        case .csv: csv(table)
        case .json: json(table)
        case .table: aligned(table)
        }
    }

    // MARK: - CSV

    static func csv(_ table: ReportTable) -> String {
        var out = table.columns.map(csvField).joined(separator: ",") + "\n"
        for row in table.rows {
            out += row.map { csvField(plain($0)) }.joined(separator: ",") + "\n"
        }
        return out
    }

    /// RFC 4180: quote a field holding a comma, a quote, CR or LF; double inner quotes.
    static func csvField(_ text: String) -> String {
        let needsQuotes = text.contains {
            $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n"
        }
        guard needsQuotes else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The text of a value for CSV and the table format (NULL is empty).
    static func plain(_ value: ReportValue) -> String {
        switch value {
        case .null: ""
        case .integer(let number): String(number)
        case .real(let number, let decimals): fixed(number, decimals: decimals)
        case .text(let text): text
        }
    }

    /// `number` with exactly `decimals` decimals, locale-independent ("1.507424").
    static func fixed(_ number: Double, decimals: Int) -> String {
        guard number.isFinite else { return number.isNaN ? "NaN" : (number < 0 ? "-inf" : "inf") }
        let text = String(format: "%.\(max(0, decimals))f", number)
        // Never print "-0.000000".
        if text.hasPrefix("-"), text.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) {
            return String(text.dropFirst())
        }
        return text
    }

    // MARK: - JSON

    static func json(_ table: ReportTable) -> String {
        guard !table.rows.isEmpty else { return "[]\n" }
        let keys = table.columns.map(JSONText.string)
        let objects = table.rows.map { row in
            let members = zip(keys, row).map { key, value in "\(key): \(jsonValue(value))" }
            return "  {" + members.joined(separator: ", ") + "}"
        }
        return "[\n" + objects.joined(separator: ",\n") + "\n]\n"
    }

    static func jsonValue(_ value: ReportValue) -> String {
        switch value {
        case .null: "null"
        case .integer(let number): String(number)
        case .real(let number, let decimals):
            number.isFinite ? fixed(number, decimals: decimals) : "null"
        case .text(let text): JSONText.string(text)
        }
    }

    // MARK: - Table

    /// Columns separated by two spaces; numeric columns right-aligned, others left-aligned;
    /// a rule of dashes under the header; `(no rows)` for an empty result. No trailing
    /// spaces. Texts are shown through ``TerminalText/escape(_:)``.
    static func aligned(_ table: ReportTable) -> String {
        // Cells come from input (names, titles, raw lines): escaped for the terminal, and
        // measured escaped, so that a control character neither acts nor skews a column.
        let cells = table.rows.map { row in row.map { TerminalText.escape(plain($0)) } }
        let header = table.columns.map { TerminalText.escape($0) }
        var widths = header.map(\.count)
        var numeric = Array(repeating: true, count: table.columns.count)
        for (rowIndex, row) in table.rows.enumerated() {
            for (column, value) in row.enumerated() where column < widths.count {
                widths[column] = max(widths[column], cells[rowIndex][column].count)
                switch value {
                case .integer, .real, .null: break
                case .text: numeric[column] = false
                }
            }
        }
        if table.rows.isEmpty { numeric = numeric.map { _ in false } }
        func line(_ fields: [String]) -> String {
            var parts: [String] = []
            for (column, field) in fields.enumerated() where column < widths.count {
                let padding = String(repeating: " ", count: max(0, widths[column] - field.count))
                parts.append(numeric[column] ? padding + field : field + padding)
            }
            var text = parts.joined(separator: "  ")
            while text.last == " " { text.removeLast() }
            return text + "\n"
        }
        var out = line(header)
        out += line(widths.map { String(repeating: "-", count: $0) })
        if table.rows.isEmpty {
            out += "(no rows)\n"
        } else {
            for row in cells { out += line(row) }
        }
        return out
    }
}
