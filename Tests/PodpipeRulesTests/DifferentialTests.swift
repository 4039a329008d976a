// Differential test: the hand-written scanner against Foundation's JSONSerialization on
// thousands of generated and mangled lines.
//
// Rule: whenever JSONSerialization (with .fragmentsAllowed) accepts a line, the scanner must
// accept it, classify it the same way (object or not) and extract the same five member
// values; whenever JSONSerialization rejects it, the scanner must say malformed (and the
// validator malformed_json).
//
// Known deviations of JSONSerialization (swift-corelibs-foundation, Swift 6.3 on Linux),
// each checked by `foundationDeviationsAreAsDocumented` below and excluded narrowly:
// 1. It accepts a trailing comma in arrays and objects (`[1,]`, `{"a":1,}`); RFC 8259 does
//    not. Excluded: lines Foundation accepts that contain `,` followed by optional
//    whitespace and `]` or `}` (the scanner must still reject them if it rejects at all).
// 2. It rejects nesting deeper than 512 levels; RFC 8259 sets no limit and the scanner
//    accepts any depth. Excluded: lines Foundation rejects with "Too many nested".
// 3. It rejects numbers it cannot represent (`1e400`, 400-digit integers); they are valid
//    JSON and the scanner keeps their text. Excluded: lines Foundation rejects with
//    "not representable".
// 4. It sniffs the encoding: a leading UTF-8 BOM is skipped, UTF-16/32 BOMs and NUL bytes
//    in the first four bytes make it decode UTF-16/32. The scanner takes UTF-8 only and the
//    caller drops a UTF-8 BOM. Excluded: lines starting with EF BB BF, FE FF or FF FE, and
//    lines with a NUL byte among their first four bytes.
// 5. It drops a raw (unescaped) U+FEFF at the start of a string and right after an escape
//    (`"\u{FEFF}a"` gives "a", `"\n\u{FEFF}b"` gives "\nb"): it treats the start of each
//    raw UTF-8 run as a place for a BOM. That loses data; the scanner keeps the character.
//    Excluded: strings containing U+FEFF are compared with every U+FEFF removed.
// Lone surrogate escapes (`"\ud800"`) are rejected by both, so they are not excluded.

import Foundation
import PodpipeSampleData
import Testing

@testable import PodpipeRules

// MARK: - Generator

struct LineGenerator {
    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    static let names = ["event_type", "user_id", "episode_id", "timestamp", "duration"]
    static let escapedNames = [
        #"user\u005fid"#, #"\u0065vent_type"#, #"episode_i\u0064"#, #"time\u0073tamp"#,
        #"duratio\u006E"#,
    ]
    static let otherNames = ["app", "session", "meta", "", "é", "user", "user_idx", "Duration", "ts"]

    static let stringPieces = [
        "play", "PAUSE", " seek ", "complete", "download", "user_50", "ep_5", "2024-04-21T09:13:28",
        "2024-04-21 09:13:28+02:00", "malformed-date", " ", "", "a,b", "x:y", "{}", "[1]", "é", "日本語",
        "😀", "\u{7F}", "\u{FEFF}", "\u{10FFFF}", "\u{E000}",
        #"\""#, #"\\"#, #"\/"#, #"\b"#, #"\f"#, #"\n"#, #"\r"#, #"\t"#, #"\u0000"#, #"\u001f"#,
        #"\u00e9"#, #"\u00C9"#, #"\uFFFF"#, #"\ud83d\ude00"#, #"\uDBFF\uDFFF"#, #"\u0041"#,
    ]

    static let numbers = [
        "0", "-0", "1", "42", "-17", "3418", "300", "300.0", "3e2", "3E+2", "1.5", "-2.5E-3", "0.000001",
        "123.456e7", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "18446744073709551615", "18446744073709551616", "123456789012345678901234567890",
        "1e308", "1e-300", "4.9e-324", "0.1000000000000000000000000000001",
    ]
    /// Valid JSON that Foundation cannot represent (deviation 3); drawn rarely so that they
    /// do not exclude too many lines.
    static let hugeNumbers = ["1e400", "-1e400", String(repeating: "7", count: 400)]

    mutating func string() -> String {
        var s = "\""
        for _ in 0..<rng.below(4) { s += rng.pick(Self.stringPieces) }
        return s + "\""
    }

    mutating func whitespace() -> String {
        guard rng.chance(30) else { return rng.chance(50) ? " " : "" }
        var s = ""
        for _ in 0..<(1 + rng.below(3)) { s += rng.pick([" ", "\t", "\r", "\n"]) }
        return s
    }

    mutating func scalar() -> String {
        switch rng.below(10) {
        case 0: return "null"
        case 1: return rng.chance(50) ? "true" : "false"
        case 2, 3, 4: return rng.chance(3) ? rng.pick(Self.hugeNumbers) : rng.pick(Self.numbers)
        default: return string()
        }
    }

    mutating func value(depth: Int) -> String {
        guard depth < 4, rng.chance(25) else { return scalar() }
        if rng.chance(50) {
            let count = rng.below(4)
            let items = (0..<count).map { _ in whitespace() + value(depth: depth + 1) + whitespace() }
            return "[" + items.joined(separator: ",") + "]"
        }
        let count = rng.below(4)
        let items = (0..<count).map { _ -> String in
            let key = rng.chance(30) ? rng.pick(Self.names) : rng.pick(Self.otherNames)
            return whitespace() + "\"" + key + "\"" + whitespace() + ":" + whitespace()
                + value(depth: depth + 1) + whitespace()
        }
        return "{" + items.joined(separator: ",") + "}"
    }

    mutating func memberValue(_ name: String) -> String {
        switch (name, rng.below(10)) {
        case (_, 0): return value(depth: 1)
        case (_, 1): return "null"
        case ("event_type", _):
            return "\"" + rng.pick(["play", "pause", "seek", "complete", " Play ", "download", ""]) + "\""
        case ("timestamp", _):
            return "\""
                + rng.pick(["2024-04-21T09:13:28", "2024-02-29 23:59:59.5Z", "2024-02-30T00:00:00", "bad"])
                + "\""
        case ("duration", let k): return k < 6 ? rng.pick(Self.numbers) : string()
        default: return rng.chance(70) ? "\"" + rng.pick(["user_5", " ep_7 ", "", "ü"]) + "\"" : scalar()
        }
    }

    /// An event-like object: some of the five members (maybe escaped, maybe twice), extra
    /// members, random whitespace, random order.
    mutating func eventLine() -> String {
        var members: [String] = []
        for (index, name) in Self.names.enumerated() where rng.chance(85) {
            let key = rng.chance(5) ? Self.escapedNames[index] : name
            members.append("\"\(key)\"" + whitespace() + ":" + whitespace() + memberValue(name))
            if rng.chance(8) {
                members.append("\"\(name)\":" + whitespace() + memberValue(name))
            }
        }
        for _ in 0..<rng.below(3) {
            members.append("\"" + rng.pick(Self.otherNames) + "\":" + whitespace() + value(depth: 1))
        }
        // Shuffle deterministically.
        for i in stride(from: members.count - 1, to: 0, by: -1) {
            members.swapAt(i, rng.below(i + 1))
        }
        let body = members.map { whitespace() + $0 + whitespace() }.joined(separator: ",")
        return whitespace() + "{" + body + "}" + whitespace()
    }

    mutating func deepLine() -> String {
        let depth = rng.pick([10, 100, 511, 512, 513, 600])
        var open = ""
        var close = ""
        for _ in 0..<depth {
            if rng.chance(50) {
                open += "["
                close = "]" + close
            } else {
                open += "{\"k\":"
                close = "}" + close
            }
        }
        let inner = open + scalar() + close
        return rng.chance(50) ? inner : "{\"user_id\":\"u\",\"x\":" + inner + "}"
    }

    static let invalidUTF8: [[UInt8]] = [
        [0xFF], [0x80], [0xC0, 0xAF], [0xC1, 0xBF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80],
        [0xE2, 0x82], [0xF0, 0x80, 0x80, 0xAF], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80],
        [0xC3], [0xFE],
    ]
    static let insertions: [[UInt8]] = [
        Array("{".utf8), Array("}".utf8), Array("[".utf8), Array("]".utf8), Array("\"".utf8),
        Array(",".utf8), Array(":".utf8), Array("\\".utf8), Array(" ".utf8), Array("0".utf8),
        Array("-".utf8), Array("e".utf8), Array(".".utf8), Array("\\u".utf8), Array(#"\ud800"#.utf8),
        Array(#"\udc00"#.utf8), Array("\\x".utf8), [0x01], [0x1F], [0x7F], [0x09], [0x0A], [0x00],
        Array("é".utf8), Array("😀".utf8), Array(",]".utf8), Array("null".utf8), Array("tru".utf8),
    ]

    /// One to three random edits.
    mutating func mangle(_ input: [UInt8]) -> [UInt8] {
        var bytes = input
        for _ in 0..<(1 + rng.below(3)) {
            let position = bytes.isEmpty ? 0 : rng.below(bytes.count + 1)
            switch rng.below(8) {
            case 0:  // truncate
                bytes = Array(bytes.prefix(position))
            case 1:  // flip one byte to anything
                if !bytes.isEmpty { bytes[min(position, bytes.count - 1)] = UInt8(rng.below(256)) }
            case 2:  // flip one bit
                if !bytes.isEmpty { bytes[min(position, bytes.count - 1)] ^= UInt8(1 << rng.below(8)) }
            case 3:  // insert invalid UTF-8
                bytes.insert(contentsOf: rng.pick(Self.invalidUTF8), at: position)
            case 4:  // delete a byte
                if !bytes.isEmpty { bytes.remove(at: min(position, bytes.count - 1)) }
            case 5, 6:  // insert a structural or tricky piece
                bytes.insert(contentsOf: rng.pick(Self.insertions), at: position)
            default:  // duplicate a slice
                let length = rng.below(6)
                let end = min(bytes.count, position + length)
                bytes.insert(contentsOf: bytes[position..<end], at: position)
            }
        }
        return bytes
    }

    mutating func next() -> [UInt8] {
        switch rng.below(20) {
        case 0, 1, 2, 3, 4, 5, 6: return Array(eventLine().utf8)
        case 7, 8: return Array((whitespace() + value(depth: 0) + whitespace()).utf8)
        case 9: return Array(deepLine().utf8)
        case 10: return mangle(Array(deepLine().utf8))
        default:
            let base = rng.chance(80) ? eventLine() : value(depth: 0)
            return mangle(Array(base.utf8))
        }
    }
}

// MARK: - Comparison

/// What JSONSerialization made of a line.
enum FoundationVerdict {
    case rejected(String)
    case object([String: Any])
    case other
}

func foundationParse(_ bytes: [UInt8]) -> FoundationVerdict {
    do {
        let value = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        if let dict = value as? [String: Any] { return .object(dict) }
        return .other
    } catch {
        return .rejected(String(describing: error))
    }
}

/// Deviation 4: Foundation would not read these bytes as plain UTF-8.
func foundationSniffsAnotherEncoding(_ bytes: [UInt8]) -> Bool {
    if bytes.starts(with: [0xEF, 0xBB, 0xBF]) || bytes.starts(with: [0xFE, 0xFF])
        || bytes.starts(with: [0xFF, 0xFE])
    {
        return true
    }
    return bytes.prefix(4).contains(0)
}

/// Deviation 1: a trailing comma somewhere (`,` + JSON whitespace + `]` or `}`).
func hasTrailingCommaPattern(_ bytes: [UInt8]) -> Bool {
    var i = 0
    while i < bytes.count {
        if bytes[i] == UInt8(ascii: ",") {
            var j = i + 1
            while j < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[j]) { j += 1 }
            if j < bytes.count, bytes[j] == UInt8(ascii: "]") || bytes[j] == UInt8(ascii: "}") {
                return true
            }
        }
        i += 1
    }
    return false
}

/// Whether a value from JSONSerialization equals the scanner's member value; nil = same.
func mismatch(_ name: String, foundation: Any?, scanner: JSONMemberValue?) -> String? {
    let description =
        "\(name): Foundation \(String(describing: foundation)) vs scanner \(String(describing: scanner))"
    switch (foundation, scanner) {
    case (nil, nil):
        return nil
    case (is NSNull, .null?):
        return nil
    case (let n as NSNumber, .bool(let b)?):
        return String(describing: type(of: n)) == "__NSCFBoolean" && n.boolValue == b ? nil : description
    case (let n as NSNumber, .number(let literal)?):
        guard String(describing: type(of: n)) != "__NSCFBoolean", let d = Double(literal) else {
            return description
        }
        let f = n.doubleValue
        if d == f { return nil }
        return abs(d - f) <= 1e-12 * max(abs(d), abs(f)) ? nil : description
    case (let s as String, .string(let t)?):
        if t.unicodeScalars.contains("\u{FEFF}") {  // deviation 5
            let strip = { (x: String) in Array(x.unicodeScalars.filter { $0 != "\u{FEFF}" }) }
            return strip(s) == strip(t) ? nil : description
        }
        return Array(s.utf8) == Array(t.utf8) ? nil : description
    case (is [String: Any], .object?):
        return nil
    case (is [Any], .array?):
        return nil
    default:
        return description
    }
}

@Suite("Differential: scanner vs JSONSerialization")
struct DifferentialTests {
    /// The documented deviations really are how Foundation behaves here (if Foundation
    /// changes, this test says so and the exclusions can be tightened).
    @Test func foundationDeviationsAreAsDocumented() {
        func accepted(_ s: String) -> Bool {
            if case .rejected = foundationParse(Array(s.utf8)) { return false }
            return true
        }
        func reason(_ s: String) -> String {
            if case .rejected(let r) = foundationParse(Array(s.utf8)) { return r }
            return ""
        }
        // 1. trailing commas
        #expect(accepted("[1,]") && accepted(#"{"a":1,}"#))
        #expect(scanMembers("[1,]").0 == .malformed)
        // 2. depth limit
        let deep = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)
        #expect(reason(deep).contains("Too many nested"))
        #expect(scanMembers(deep).0 == .notAnObject)
        // 3. unrepresentable numbers
        #expect(reason("1e400").contains("not representable"))
        #expect(scanMembers("1e400").0 == .notAnObject)
        // 4. encoding sniffing
        #expect(accepted("\u{FEFF}1"))
        #expect(scanMembers("\u{FEFF}1").0 == .malformed)
        #expect(
            !{
                if case .rejected = foundationParse([0x31, 0x00]) { return true }; return false
            }())
        // 5. U+FEFF at the start of a raw run inside a string is dropped.
        if case .other = foundationParse(Array("\"\u{FEFF}a\"".utf8)) {
            let value = try? JSONSerialization.jsonObject(
                with: Data("\"\u{FEFF}a\"".utf8), options: [.fragmentsAllowed])
            #expect(value as? String == "a")
        }
        let (_, kept) = scanMembers("{\"user_id\": \"\u{FEFF}a\"}")
        #expect(kept["user_id"] == .string("\u{FEFF}a"))
        // Lone surrogates: both reject (no exclusion needed).
        #expect(!accepted(#""\ud800""#) && !accepted(#""\udc00""#))
        #expect(scanMembers(#""\ud800""#).0 == .malformed)
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func generatedLines(seed: UInt64) {
        var generator = LineGenerator(seed: seed &* 0x5DEE_CE66_D1CE_4E5B)
        var compared = 0
        var acceptedCount = 0
        var objects = 0
        var excluded = 0
        var failures: [String] = []
        let total = 5_000
        for index in 0..<total {
            let bytes = generator.next()
            if foundationSniffsAnotherEncoding(bytes) {
                excluded += 1
                continue
            }
            let (status, members) = scanMembers(bytes)
            let outcome = validate(bytes: bytes)
            let isBlank = bytes.withUnsafeBytes { EventValidator.isBlank($0) }
            let show =
                "seed \(seed) line \(index): \(String(decoding: bytes.prefix(300), as: UTF8.self).debugDescription) bytes \(bytes.prefix(60))"

            switch foundationParse(bytes) {
            case .rejected(let reason):
                if reason.contains("Too many nested") || reason.contains("not representable") {
                    excluded += 1
                    continue
                }
                compared += 1
                if status != .malformed {
                    failures.append("Foundation rejects (\(reason)) but scanner says \(status): \(show)")
                }
                if !isBlank && outcome != .invalid(EventErrors(.malformedJSON)) {
                    failures.append("validator did not say malformed_json: \(outcome) \(show)")
                }
            case .other:
                if status == .malformed && hasTrailingCommaPattern(bytes) {
                    excluded += 1
                    continue
                }
                compared += 1
                acceptedCount += 1
                if status != .notAnObject {
                    failures.append("Foundation: non-object, scanner \(status): \(show)")
                }
                if outcome != .invalid(EventErrors(.notAnObject)) {
                    failures.append("validator did not say not_an_object: \(outcome) \(show)")
                }
            case .object(let dict):
                if status == .malformed && hasTrailingCommaPattern(bytes) {
                    excluded += 1
                    continue
                }
                compared += 1
                acceptedCount += 1
                objects += 1
                guard status == .object else {
                    failures.append("Foundation: object, scanner \(status): \(show)")
                    continue
                }
                for name in LineGenerator.names {
                    if let problem = mismatch(name, foundation: dict[name], scanner: members[name]) {
                        failures.append("\(problem) \(show)")
                    }
                }
                if case .invalid(let errors) = outcome,
                    errors.contains(.malformedJSON) || errors.contains(.notAnObject)
                {
                    failures.append("validator: \(errors.text) for an object: \(show)")
                }
            }
            if failures.count > 20 { break }
        }
        #expect(
            failures.isEmpty, "\(failures.count) failures:\n\(failures.prefix(20).joined(separator: "\n"))")
        // The generator must exercise both sides well.
        #expect(compared > total * 8 / 10, "compared \(compared), excluded \(excluded)")
        #expect(acceptedCount > total / 4, "accepted \(acceptedCount)")
        #expect(objects > total / 5, "objects \(objects)")
        #expect(compared - acceptedCount > total / 5, "rejected \(compared - acceptedCount)")
    }
}
