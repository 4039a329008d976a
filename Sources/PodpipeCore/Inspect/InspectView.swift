/// Terminal views of the inspection tables: the `table` format shows the columns an
/// operator reads at a glance, with short headers and long texts clipped (to their escaped
/// width: the table renderer escapes them, ``TerminalText``); `csv` and `json`
/// keep every column of the query, unclipped, with the data model's names.
public enum InspectView {
    /// `podpipectl files --format table`.
    public static func files(_ table: ReportTable) -> ReportTable {
        project(
            table,
            [
                ("file_id", "id", nil), ("name", "name", 40), ("kind", "kind", nil),
                ("state", "state", nil), ("rows_read", "read", nil), ("rows_loaded", "loaded", nil),
                ("rows_rejected", "rejected", nil), ("rows_duplicate", "dup", nil),
                ("first_error_line", "line", nil), ("first_error", "first error / note", 60),
                ("finished_at", "finished (UTC)", nil), ("duration_ms", "ms", nil),
            ],
            fallback: ["first_error": "message"])
    }

    /// `podpipectl rejects --format table`.
    public static func rejects(_ table: ReportTable) -> ReportTable {
        project(
            table,
            [
                ("file_id", "id", nil), ("file", "file", 32), ("line", "line", nil),
                ("codes", "codes", 60), ("raw", "raw", 90),
            ])
    }

    /// `podpipectl rejects --summary --format table`, by file.
    public static func rejectsByFile(_ table: ReportTable) -> ReportTable {
        project(
            table,
            [
                ("file_id", "id", nil), ("file", "file", 40), ("kind", "kind", nil),
                ("state", "state", nil), ("rows_read", "read", nil), ("rejected", "rejected", nil),
                ("reject_rate", "rate", nil),
            ])
    }

    /// Keeps `columns` (source name, shown name, clip width) in that order. `fallback`:
    /// a column whose NULL cells show another column's value.
    static func project(
        _ table: ReportTable, _ columns: [(String, String, Int?)], fallback: [String: String] = [:]
    ) -> ReportTable {
        let index = Dictionary(
            table.columns.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let kept = columns.filter { index[$0.0] != nil }
        let rows = table.rows.map { row in
            kept.map { column -> ReportValue in
                guard let i = index[column.0], i < row.count else { return .null }
                var value = row[i]
                if value == .null, let other = fallback[column.0], let j = index[other], j < row.count {
                    value = row[j]
                }
                if let width = column.2, case .text(let text) = value {
                    value = .text(TerminalText.clip(text, width))
                }
                return value
            }
        }
        return ReportTable(columns: kept.map(\.1), rows: rows)
    }
}
