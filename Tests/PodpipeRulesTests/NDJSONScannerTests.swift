import Testing

@testable import PodpipeRules

@Suite("NDJSON scanner")
struct NDJSONScannerTests {
    @Test func typicalLineExtractsTheFiveMembers() {
        let (status, m) = scanMembers(typicalLine)
        #expect(status == .object)
        #expect(m["event_type"] == .string("play"))
        #expect(m["user_id"] == .string("user_50"))
        #expect(m["episode_id"] == .string("ep_5"))
        #expect(m["timestamp"] == .string("2024-04-21T09:13:28"))
        #expect(m["duration"] == .number("3418"))
    }

    @Test func memberKindsAndLiterals() {
        let (status, m) = scanMembers(
            #"{"event_type":null,"user_id":true,"episode_id":{"a":[1,{"b":null}]},"timestamp":[],"duration":-1.5e+3}"#
        )
        #expect(status == .object)
        #expect(m["event_type"] == .null)
        #expect(m["user_id"] == .bool(true))
        #expect(m["episode_id"] == .object)
        #expect(m["timestamp"] == .array)
        #expect(m["duration"] == .number("-1.5e+3"))
    }

    @Test func absentMembersAndEmptyObject() {
        #expect(scanMembers("{}").0 == .object)
        #expect(scanMembers("{}").1.isEmpty)
        let (_, m) = scanMembers(#"{"other": 1, "user_id": false}"#)
        #expect(m.count == 1)
        #expect(m["user_id"] == .bool(false))
    }

    @Test func memberNamesMustMatchExactly() {
        let (_, m) = scanMembers(
            #"{"User_id": 1, "user_id ": 2, "userid": 3, "user_ids": 4, "event_typ": 5, "episode_ie": 6, "timestamP": 7, "duratio": 8, "durations": 9}"#
        )
        #expect(m.isEmpty)
    }

    @Test func keyWordConstantsSpellTheNames() {
        func word<T: FixedWidthInteger>(_ s: String, as: T.Type) -> T {
            var w: T = 0
            for (i, b) in s.utf8.enumerated() { w |= T(b) << (8 * i) }
            return w
        }
        #expect(MemberSlot.word_eventTy == word("event_ty", as: UInt64.self))
        #expect(MemberSlot.word_episode_ == word("episode_", as: UInt64.self))
        #expect(MemberSlot.word_timestam == word("timestam", as: UInt64.self))
        #expect(MemberSlot.word_duration == word("duration", as: UInt64.self))
        #expect(MemberSlot.word_user == word("user", as: UInt32.self))
        #expect(MemberSlot.word_r_id == word("r_id", as: UInt32.self))
        #expect(MemberSlot.word_pe == word("pe", as: UInt16.self))
        #expect(MemberSlot.word_id == word("id", as: UInt16.self))
    }

    @Test func duplicateKeysLastOneWins() {
        let (_, m) = scanMembers(#"{"user_id": "a", "user_id": null, "user_id": "c"}"#)
        #expect(m["user_id"] == .string("c"))
        let (_, m2) = scanMembers(#"{"duration": 5, "duration": null}"#)
        #expect(m2["duration"] == .null)
    }

    @Test func escapedKeysAreUnescapedBeforeMatching() {
        let (_, m) = scanMembers(#"{"user\u005fid": "u1", "\u0065vent_type": "play"}"#)
        #expect(m["user_id"] == .string("u1"))
        #expect(m["event_type"] == .string("play"))
    }

    @Test func stringEscapesAreDecoded() {
        let (_, m) = scanMembers(
            #"{"user_id": "a\"b\\c\/d\be\ff\ng\rh\ti", "episode_id": "\u00e9\u00C9\u65e5\ud83d\ude00\u0000", "event_type": "é日😀"}"#
        )
        #expect(m["user_id"] == .string("a\"b\\c/d\u{8}e\u{C}f\ng\rh\ti"))
        #expect(m["episode_id"] == .string("éÉ日😀\u{0}"))
        #expect(m["event_type"] == .string("é日😀"))
    }

    @Test func longStringsCrossTheEightByteFastPath() {
        let long = String(repeating: "abcdefghij", count: 50)
        let (_, m) = scanMembers(#"{"user_id": "\#(long)", "episode_id": "\#(long)é\#(long)\n"}"#)
        #expect(m["user_id"] == .string(long))
        #expect(m["episode_id"] == .string(long + "é" + long + "\n"))
    }

    @Test func whitespaceAroundEverything() {
        let line = " \t{ \"user_id\" \t:\r \"x\" , \"duration\"\n:\n1 }\t \r"
        let (status, m) = scanMembers(line)
        #expect(status == .object)
        #expect(m["user_id"] == .string("x"))
        #expect(m["duration"] == .number("1"))
    }

    @Test func nonObjectValues() {
        for text in ["42", "-0.5e3", "\"x\"", "null", "true", "false", "[]", "[1, {\"a\": [2]}]", " [ ] "] {
            #expect(scanMembers(text).0 == .notAnObject, "\(text)")
        }
    }

    @Test(arguments: [
        "", " ", "{", "}", "{]", "[}", "{\"a\"}", "{\"a\":}", "{\"a\" 1}", "{\"a\":1,}", "[1,]", "[,1]",
        "[1,,2]", "{,}", "{\"a\":1 \"b\":2}", "{1:2}", "{'a':1}", "{\"a\":1}}", "{\"a\":1} x", "{} {}",
        "01", "-", "-01", "1.", ".5", "+1", "1e", "1e+", "1.e2", "0x10", "NaN", "Infinity", "-Infinity",
        "tru", "nul", "nulll", "True", "FALSE", "\"abc", "\"a\\\"", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"",
        "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\ud800x\"", "\"\\ude00\\ud83d\"",
        "\"a\u{1}b\"", "\"a\tb\"", "\"a\nb\"", "\u{0C}{}", "{}\u{0B}", "\u{A0}{}", "\u{FEFF}{}",
        "// c\n{}", "{\"a\":[1,2}", "{\"a\":{\"b\":1]}", "[[[]]", "[]]",
    ])
    func malformedLines(_ text: String) {
        #expect(scanMembers(text).0 == .malformed, "\(text.debugDescription)")
    }

    @Test(
        arguments: [
            [0x22, 0xFF, 0x22],  // never valid in UTF-8
            [0x22, 0x80, 0x22],  // lone continuation byte
            [0x22, 0xC0, 0xAF, 0x22],  // overlong "/"
            [0x22, 0xC1, 0xBF, 0x22],  // overlong
            [0x22, 0xE0, 0x80, 0xAF, 0x22],  // overlong 3-byte
            [0x22, 0xF0, 0x80, 0x80, 0xAF, 0x22],  // overlong 4-byte
            [0x22, 0xED, 0xA0, 0x80, 0x22],  // encoded surrogate U+D800
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
            [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22],  // invalid lead
            [0x22, 0xE2, 0x82, 0x22],  // truncated sequence
            [0x22, 0xE2, 0x82],  // truncated at the end of the line
            [0x7B, 0xC3, 0xA9, 0x7D],  // valid UTF-8, but outside a string
            [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0x00, 0x22, 0x7D],  // NUL inside a string
            [0x7B, 0x7D, 0x00],  // NUL after the value
        ] as [[UInt8]])
    func invalidUTF8AndBytes(_ bytes: [UInt8]) {
        #expect(scanMembers(bytes).0 == .malformed)
    }

    @Test func validUTF8Boundaries() {
        // U+0080, U+07FF, U+0800, U+FFFF (not a character but valid), U+10000, U+10FFFF.
        let bytes: [UInt8] =
            [0x22, 0xC2, 0x80, 0xDF, 0xBF, 0xE0, 0xA0, 0x80, 0xEF, 0xBF, 0xBF]
            + [0xF0, 0x90, 0x80, 0x80, 0xF4, 0x8F, 0xBF, 0xBF, 0xED, 0x9F, 0xBF, 0xEE, 0x80, 0x80, 0x22]
        #expect(scanMembers(bytes).0 == .notAnObject)
    }

    @Test func hugeNumbersAreKeptAsWritten() {
        let digits = String(repeating: "9", count: 400)
        let (status, m) = scanMembers(#"{"duration": \#(digits), "user_id": 1e999999}"#)
        #expect(status == .object)
        #expect(m["duration"] == .number(digits))
        #expect(m["user_id"] == .number("1e999999"))
    }

    @Test func deepNestingIsIterative() {
        let depth = 100_000
        let open = String(repeating: "[", count: depth)
        let close = String(repeating: "]", count: depth)
        #expect(scanMembers(open).0 == .malformed)
        #expect(scanMembers(open + close).0 == .notAnObject)
        #expect(scanMembers(open + close + "]").0 == .malformed)
        let mixed =
            String(repeating: "[{\"k\":", count: depth / 2) + "1"
            + String(repeating: "}]", count: depth / 2)
        #expect(scanMembers(mixed).0 == .notAnObject)
        let mismatched =
            String(repeating: "[{\"k\":", count: depth / 2) + "1"
            + String(repeating: "]}", count: depth / 2)
        #expect(scanMembers(mismatched).0 == .malformed)
        let (status, m) = scanMembers(#"{"x": \#(open)\#(close), "user_id": "deep"}"#)
        #expect(status == .object)
        #expect(m["user_id"] == .string("deep"))
    }

    @Test func nestedMembersAreNotExtracted() {
        let (_, m) = scanMembers(#"{"data": {"user_id": "inner", "duration": 1}, "user_id": "outer"}"#)
        #expect(m["user_id"] == .string("outer"))
        #expect(m["duration"] == nil)
    }

    @Test func rawAccessors() {
        let line = #"{"user_id": " a\u0041 ", "duration": 300.0, "episode_id": -7}"#
        let bytes = Array(line.utf8)
        bytes.withUnsafeBytes { buf in
            guard case .object(let m) = NDJSONScanner.scan(buf) else {
                Issue.record("not an object")
                return
            }
            #expect(m.userId.hasEscapes)
            #expect(m.userId.rawText(in: buf) == #" a\u0041 "#)
            #expect(m.userId.stringValue(in: buf) == " aA ")
            #expect(m.duration.hasFraction && !m.duration.hasExponent && !m.duration.isIntegerLiteral)
            #expect(m.episodeId.isIntegerLiteral && m.episodeId.isNegative)
            #expect(m.timestamp.kind == .absent && m.timestamp.isNullOrAbsent)
            #expect(NDJSONScanner.isValidJSON(buf))
        }
    }
}
