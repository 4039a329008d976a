import Foundation
import Logging
import Testing

@testable import PodpipeCore

/// Text from input is escaped wherever it meets a terminal (issue 14, terminal injection):
/// one function, a visible and unambiguous form, widths measured escaped.
@Suite("terminal text: control and bidi characters are escaped")
struct TerminalTextTests {
    @Test func controlsBidiAndBackslashAreEscapedVisibly() {
        #expect(TerminalText.escape("a\u{1B}[2Jb") == "a\\x1b[2Jb")
        #expect(TerminalText.escape("\u{1B}]0;owned\u{07}") == "\\x1b]0;owned\\x07")
        #expect(TerminalText.escape("x\ry\nz\tw") == "x\\ry\\nz\\tw")
        #expect(TerminalText.escape("\r\n") == "\\r\\n")
        #expect(TerminalText.escape("\u{00}\u{7F}") == "\\x00\\x7f")
        #expect(TerminalText.escape("\u{9B}31m") == "\\u{009b}31m")
        #expect(TerminalText.escape("abc\u{202E}fdp.exe") == "abc\\u{202e}fdp.exe")
        for scalar: UInt32 in [0x061C, 0x200E, 0x200F, 0x202A, 0x202D, 0x2066, 0x2069, 0x2028, 0x2029] {
            let text = String(Character(Unicode.Scalar(scalar) ?? "?"))
            let hex = String(scalar, radix: 16)
            #expect(
                TerminalText.escape(text) == "\\u{" + String(repeating: "0", count: 4 - hex.count) + hex + "}"
            )
        }
        // A backslash is kept (the ledger's `\xNN` for bytes that are not UTF-8 stays as is).
        #expect(TerminalText.escape("ev\\xff.json") == "ev\\xff.json")
    }

    @Test func printableTextIsKeptAsItIs() {
        for text in ["", "ep_1", "Épisode « 1 », café", "日本語のタイトル", "emoji 🎧 ok", "a, \"quoted\" title"] {
            #expect(TerminalText.escape(text) == text)
        }
    }

    @Test func noEscapedTextHoldsAControlCharacter() {
        var all = ""
        for value in UInt32(0)...0x3000 {
            if let scalar = Unicode.Scalar(value) { all.unicodeScalars.append(scalar) }
        }
        let escaped = TerminalText.escape(all)
        #expect(!escaped.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
        #expect(
            !escaped.unicodeScalars.contains {
                (0x202A...0x202E).contains($0.value) || (0x2066...0x2069).contains($0.value)
            })
    }

    @Test func clipMeasuresTheEscapedWidthAndNeverCutsAnEscape() {
        #expect(TerminalText.clip("abcdef", 4) == "abc…")
        #expect(TerminalText.clip("abc", 4) == "abc")
        // "\x1b" takes 4 columns: it does not fit after "ab" in 5 (4 + the ellipsis).
        #expect(TerminalText.clip("ab\u{1B}cdef", 5) == "ab…")
        #expect(TerminalText.width("ab\u{1B}") == 6)
    }

    @Test func tablesAlignOnTheEscapedText() {
        let table = ReportTable(
            columns: ["name", "n"],
            rows: [[.text("a\u{1B}[2J"), .integer(1)], [.text("plain"), .integer(22)]])
        let text = ReportRenderer.render(table, as: .table)
        #expect(!text.unicodeScalars.contains { $0.value == 0x1B })
        let lines = text.split(separator: "\n")
        // Every row ends at the same column: widths were measured on `a\x1b[2J`.
        #expect(Set(lines.map(\.count)).count == 1)
        #expect(lines[2] == "a\\x1b[2J   1")
    }

    @Test func csvAndJSONKeepTheExactValue() {
        let value = "t\u{1B}[2J,\"x\"\r\n\u{202E}"
        let table = ReportTable(columns: ["title"], rows: [[.text(value)]])
        let csv = ReportRenderer.render(table, as: .csv)
        #expect(csv == "title\n\"t\u{1B}[2J,\"\"x\"\"\r\n\u{202E}\"\n")
        let json = ReportRenderer.render(table, as: .json)
        #expect(json.contains("\"t\\u001b[2J,\\\"x\\\"\\r\\n\u{202E}\""))
        let decoded = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: String]]
        #expect(decoded?.first?["title"] == value)
    }

    @Test func stderrLogLinesAreOneEscapedLine() {
        let line = StderrLine.format(
            date: Date(timeIntervalSince1970: 0), level: .info, label: "podpiped",
            message: "file loaded\u{1B}[2J",
            metadata: ["file": "evil\r\u{202E}.json", "rows": "4"],
            error: nil)
        #expect(
            line
                == "1970-01-01T00:00:00Z info podpiped: file loaded\\x1b[2J file=\"evil\\r\\u{202e}.json\" rows=4\n"
        )
        let quoted = StderrLine.format(
            date: Date(timeIntervalSince1970: 0), level: .info, label: "podpiped", message: "m",
            metadata: ["file": "a \"b\"\nc\\d"])
        #expect(quoted.hasSuffix(" file=\"a \\\"b\\\"\\nc\\\\d\"\n"))
    }
}
