/// Text placed into the HTML report (`podpipectl report html`).
///
/// Titles, ids and countries come from the files in the drop folder: a title such as
/// `<script>alert(1)</script>` must show as those characters and never act. Every text and
/// every attribute value of the page passes through ``escape(_:)``; attribute values are
/// always written between double quotes. Controls and bidirectional controls are first
/// made visible exactly as the terminal shows them (``TerminalText``), so that a U+202E in a
/// title cannot reverse the text after it on the page either.
enum HTMLText {
    /// `text` safe as HTML text content and as a double-quoted attribute value: `&`, `<`,
    /// `>`, `"` and `'` as character references, controls as ``TerminalText`` writes them.
    static func escape(_ text: String) -> String {
        let visible = TerminalText.escape(text)
        guard
            visible.utf8.contains(where: {
                $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27
            })
        else { return visible }
        var out = ""
        out.reserveCapacity(visible.utf8.count + 16)
        for character in visible.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }
}
