import PodpipeRules
import PodpipeSampleData

/// 2025-01-01T00:00:00Z, the "now" of the tests.
let testNow: Int64 = 1_735_689_600

let validator = EventValidator(now: testNow)

/// Validates raw bytes (which may be invalid UTF-8).
func validate(bytes: [UInt8], with v: EventValidator = validator) -> LineOutcome {
    bytes.withUnsafeBytes { v.validate($0) }
}

/// The error codes of a line (empty when valid or blank).
func codes(_ line: String, with v: EventValidator = validator) -> [EventErrorCode] {
    if case .invalid(let errors) = v.validate(line) { return errors.codes }
    return []
}

/// The clean event of a line, or nil.
func clean(_ line: String, with v: EventValidator = validator) -> CleanEvent? {
    if case .valid(let event) = v.validate(line) { return event }
    return nil
}

/// Scans bytes and returns the outcome plus the five members as detached values.
func scanMembers(_ bytes: [UInt8]) -> (NDJSONScanner.Status, [String: JSONMemberValue]) {
    bytes.withUnsafeBytes { buf in
        switch NDJSONScanner.scan(buf) {
        case .malformed: return (.malformed, [:])
        case .notAnObject: return (.notAnObject, [:])
        case .object(let m):
            var out: [String: JSONMemberValue] = [:]
            let fields: [(String, JSONField)] = [
                ("event_type", m.eventType), ("user_id", m.userId), ("episode_id", m.episodeId),
                ("timestamp", m.timestamp), ("duration", m.duration),
            ]
            for (name, field) in fields {
                if let value = field.value(in: buf) { out[name] = value }
            }
            return (.object, out)
        }
    }
}

func scanMembers(_ line: String) -> (NDJSONScanner.Status, [String: JSONMemberValue]) {
    scanMembers(Array(line.utf8))
}

/// A typical valid line.
let typicalLine =
    #"{"event_type": "play", "user_id": "user_50", "episode_id": "ep_5", "timestamp": "2024-04-21T09:13:28", "duration": 3418}"#
