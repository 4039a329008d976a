import Foundation

/// JSON text, written the same way everywhere: string literals by hand (bronze rows of
/// reference files, report output) and whole values through `JSONEncoder` (the `--json`
/// output of `validate`, `reprocess`, `revalidate`).
enum JSONText {
    /// `text` as a JSON string literal: quotes, backslashes and control characters
    /// escaped, everything else as it is (UTF-8).
    static func string(_ text: String) -> String {
        // Most texts (ids, dates, titles) need no escape: one pass over the bytes, then one
        // concatenation (appending scalar by scalar was most of a reference row's bronze cost).
        if !text.utf8.contains(where: { $0 == 0x22 || $0 == 0x5C || $0 < 0x20 }) {
            return "\"" + text + "\""
        }
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// `value` as one pretty-printed JSON object with sorted snake_case keys and unescaped
    /// slashes, ending with a newline (`{}` if it cannot be encoded).
    static func snakeCase(_ value: some Encodable) -> String {
        pretty(value, keys: .convertToSnakeCase) + "\n"
    }

    /// `value` as one pretty-printed JSON object with sorted keys (named by `keys`: by
    /// default as the type's coding keys say) and unescaped slashes, without a final newline
    /// (`{}` if it cannot be encoded).
    static func pretty(
        _ value: some Encodable, keys: JSONEncoder.KeyEncodingStrategy = .useDefaultKeys
    ) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = keys
        guard let data = try? encoder.encode(value), let text = String(data: data, encoding: .utf8)
        else { return "{}" }
        return text
    }
}
