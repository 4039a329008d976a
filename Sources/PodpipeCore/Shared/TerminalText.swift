/// Text from input (file names, ids, titles, countries, raw rejected lines, error messages
/// that quote them) made safe to show on a terminal or in a readable log line.
///
/// A file dropped into the folder can carry escape sequences in its name or its rows: `ESC[2J`
/// clears the screen, an OSC sequence sets the window title, a CR rewrites the line, U+202E
/// reverses the text after it. Every human-readable output (tables, `status`, `validate`,
/// the daemon's stderr lines, error messages) passes such text through ``escape(_:)``;
/// machine formats (`--format csv`, `--format json`, `status --json`, journal fields) keep
/// the exact value in their own encoding instead.
///
/// The escaped form is visible, and names the character exactly:
/// - LF, CR, TAB → `\n`, `\r`, `\t`;
/// - other C0 controls and DEL → `\xHH` (`ESC` → `\x1b`);
/// - C1 controls (U+0080–U+009F), the bidirectional controls (U+061C, U+200E, U+200F,
///   U+202A–U+202E, U+2066–U+2069) and the line and paragraph separators (U+2028,
///   U+2029) → `\u{HHHH}` (`\u{202e}`).
///
/// Everything else is kept as it is, a backslash too: the ledger already writes a name's
/// bytes that are not UTF-8 as `\xNN` (`DropFolder.displayName`), and an operator copies
/// such a name back into `podpipectl reprocess`; doubling backslashes would show `\\xff`.
/// So a name typed with the four characters `\x1b` looks like one holding ESC; the
/// `--format json` output tells them apart. Column widths are measured on the escaped text.
public enum TerminalText {
    /// `text` with every control and bidirectional control escaped (see the type's rule).
    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            append(scalar, to: &out)
        }
        return out
    }

    /// True for a scalar that ``escape(_:)`` rewrites.
    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029: true
        default: false
        }
    }

    private static func append(_ scalar: Unicode.Scalar, to out: inout String) {
        guard needsEscape(scalar) else {
            out.unicodeScalars.append(scalar)
            return
        }
        switch scalar.value {
        case 0x0A: out += "\\n"
        case 0x0D: out += "\\r"
        case 0x09: out += "\\t"
        case 0x00...0x1F, 0x7F: out += "\\x" + hex(scalar.value, digits: 2)
        default: out += "\\u{" + hex(scalar.value, digits: 4) + "}"
        }
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    /// The width `text` takes once escaped, in characters.
    static func width(_ text: String) -> Int {
        escape(text).count
    }

    /// `text` cut so that its escaped form fits in `width` characters, with an ellipsis when
    /// something was cut. Returns the *unescaped* prefix: the caller escapes once, where the
    /// text meets the terminal, and an escape sequence is never cut in half.
    static func clip(_ text: String, _ width: Int) -> String {
        guard width > 1, self.width(text) > width else { return text }
        var kept = ""
        var used = 0
        for character in text {
            let cost = escape(String(character)).count
            if used + cost > width - 1 { break }
            kept.append(character)
            used += cost
        }
        return kept + "…"
    }
}
