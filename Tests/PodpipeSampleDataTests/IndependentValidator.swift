import Foundation

/// A second, independent reading of SPEC §4.1 on top of Foundation's JSONSerialization,
/// used to check the generator's own oracle line by line. (No JSONDecoder: Swift Testing
/// records a backtrace for every thrown error, which makes trial decoding slow.)
enum JSONValue: Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// From JSONSerialization output. Booleans and numbers are told apart by the NSNumber's
    /// `objCType` (`c` for booleans, `d`/`f` for floating point).
    init(_ any: Any) {
        switch any {
        case is NSNull:
            self = .null
        case let text as String:
            self = .string(text)
        case let number as NSNumber:
            switch String(cString: number.objCType) {
            case "c", "B": self = .bool(number.boolValue)
            case "d", "f": self = .double(number.doubleValue)
            default: self = .int(number.int64Value)
            }
        case let array as [Any]:
            self = .array(array.map(JSONValue.init))
        case let object as [String: Any]:
            self = .object(object.mapValues(JSONValue.init))
        default:
            self = .null
        }
    }
}

struct ValidatedEvent: Hashable {
    var userId: String
    var episodeId: String
    var eventType: String
    var timestamp: Int64
    var duration: Int?

    var naturalKey: String { "\(userId)\u{1}\(episodeId)\u{1}\(eventType)\u{1}\(timestamp)" }
}

enum IndependentValidator {
    /// Strict JSON parse through JSONSerialization (fragments allowed).
    static func parse(_ line: [UInt8]) -> JSONValue? {
        (try? JSONSerialization.jsonObject(with: Data(line), options: [.fragmentsAllowed]))
            .map(JSONValue.init)
    }

    static func isJSON(_ line: [UInt8]) -> Bool { parse(line) != nil }

    /// The codes of one non-blank line, and the clean event when valid.
    static func validate(_ line: [UInt8], now: Int64) -> (Set<String>, ValidatedEvent?) {
        guard let value = parse(line) else { return (["malformed_json"], nil) }
        guard case .object(let object) = value else { return (["not_an_object"], nil) }
        var codes = Set<String>()

        func id(_ key: String, _ name: String) -> String? {
            switch object[key] {
            case nil, .null?:
                codes.insert("missing_\(name)")
            case .string(let text)?:
                let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                if trimmed.isEmpty { codes.insert("empty_\(name)") } else { return trimmed }
            case .int(let number)?:
                return String(number)
            default:
                codes.insert("invalid_\(name)")
            }
            return nil
        }
        let user = id("user_id", "user_id")
        let episode = id("episode_id", "episode_id")

        var type: String?
        switch object["event_type"] {
        case nil, .null?:
            codes.insert("missing_event_type")
        case .string(let text)?:
            let normal = text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            if ["play", "pause", "seek", "complete"].contains(normal) {
                type = normal
            } else {
                codes.insert("invalid_event_type")
            }
        default:
            codes.insert("invalid_event_type")
        }

        var timestamp: Int64?
        switch object["timestamp"] {
        case nil, .null?:
            codes.insert("missing_timestamp")
        case .string(let text)?:
            if let epoch = parseTimestamp(text) {
                if epoch < 946_684_800 {
                    codes.insert("timestamp_too_early")
                } else if epoch > min(now + 300, 253_402_300_799) {  // never past 9999-12-31
                    codes.insert("timestamp_in_future")
                } else {
                    timestamp = epoch
                }
            } else {
                codes.insert("invalid_timestamp")
            }
        default:
            codes.insert("invalid_timestamp")
        }

        var duration: Int?
        if let type {
            let raw = object["duration"]
            if type == "play" || type == "complete" {
                switch raw {
                // Positive, whole, and at most 366 days.
                case .int(let n)? where n > 0 && n <= 31_622_400:
                    duration = Int(n)
                case .double(let d)? where d > 0 && d == d.rounded() && d <= 31_622_400:
                    duration = Int(d)
                case .string(let s)?
                where !s.isEmpty && s.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 })
                    && (1...31_622_400).contains(Int(s) ?? 0):
                    duration = Int(s)
                default:
                    codes.insert("invalid_duration_for_play_complete")
                }
            } else {
                switch raw {
                case nil, .null?: break
                default: codes.insert("non_null_duration_for_other_event")
                }
            }
        }
        guard codes.isEmpty, let user, let episode, let type, let timestamp else {
            return (codes, nil)
        }
        return (
            codes,
            ValidatedEvent(
                userId: user, episodeId: episode, eventType: type, timestamp: timestamp,
                duration: duration)
        )
    }

    /// `YYYY-MM-DD`, `T` or one space, `HH:MM:SS`, optional fraction, optional `Z` or
    /// `±HH:MM`; a real date and time. Returns UTC epoch seconds (fraction truncated).
    static func parseTimestamp(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        func digits(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= b.count else { return nil }
            var value = 0
            for i in start..<(start + count) {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                value = value * 10 + Int(b[i] - 48)
            }
            return value
        }
        guard b.count >= 19, let year = digits(0, 4), b[4] == 45, let month = digits(5, 2),
            b[7] == 45, let day = digits(8, 2), b[10] == 84 || b[10] == 32,
            let hour = digits(11, 2), b[13] == 58, let minute = digits(14, 2), b[16] == 58,
            let second = digits(17, 2)
        else { return nil }
        var i = 19
        if i < b.count && b[i] == 46 {
            i += 1
            let start = i
            while i < b.count && b[i] >= 48 && b[i] <= 57 { i += 1 }
            if i == start { return nil }
        }
        var offset = 0
        if i < b.count {
            if b[i] == 90 && i + 1 == b.count {
                i += 1
            } else if (b[i] == 43 || b[i] == 45) && i + 6 == b.count, let h = digits(i + 1, 2),
                b[i + 3] == 58, let m = digits(i + 4, 2), h <= 23, m <= 59
            {
                offset = (h * 60 + m) * 60 * (b[i] == 45 ? -1 : 1)
                i += 6
            } else {
                return nil
            }
        }
        guard i == b.count, (1...12).contains(month), day >= 1,
            day <= daysInMonth(year, month), hour <= 23, minute <= 59, second <= 59
        else { return nil }
        let days = daysFromCivil(year, month, day)
        return Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offset)
    }

    static func daysInMonth(_ year: Int, _ month: Int) -> Int {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    }

    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        var days = 0
        if year >= 1970 {
            for y in 1970..<year { days += daysInMonth(y, 2) == 29 ? 366 : 365 }
        } else {
            for y in year..<1970 { days -= daysInMonth(y, 2) == 29 ? 366 : 365 }
        }
        for m in 1..<month { days += daysInMonth(year, m) }
        return days + day - 1
    }
}

/// A small RFC 4180 reader (quotes, doubled quotes, CRLF or LF).
enum CSVReader {
    static func rows(_ text: String) -> [(line: Int, fields: [String])] {
        var rows: [(Int, [String])] = []
        var fields: [String] = []
        var field = ""
        var quoted = false
        var line = 1
        var rowLine = 1
        var chars = Array(text)
        if chars.last != "\n" && chars.last != "\r\n" { chars.append("\n") }
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < chars.count && chars[i + 1] == "\"" {
                        field.append("\"")
                        i += 1
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                fields.append(field)
                field = ""
            } else if c == "\n" || c == "\r\n" {
                fields.append(field)
                rows.append((rowLine, fields))
                fields = []
                field = ""
                line += 1
                rowLine = line
            } else {
                field.append(c)
            }
            i += 1
        }
        return rows
    }
}
