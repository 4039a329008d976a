import Testing

@testable import PodpipeRules

/// A line built from member texts (JSON fragments); nil leaves the member out.
func line(
    type: String? = #""play""#, user: String? = #""user_50""#, episode: String? = #""ep_5""#,
    timestamp: String? = #""2024-04-21T09:13:28""#, duration: String? = "3418"
) -> String {
    var parts: [String] = []
    if let type { parts.append(#""event_type": \#(type)"#) }
    if let user { parts.append(#""user_id": \#(user)"#) }
    if let episode { parts.append(#""episode_id": \#(episode)"#) }
    if let timestamp { parts.append(#""timestamp": \#(timestamp)"#) }
    if let duration { parts.append(#""duration": \#(duration)"#) }
    return "{" + parts.joined(separator: ", ") + "}"
}

@Suite("Event validation rules (SPEC §4.1)")
struct EventValidatorTests {
    // MARK: valid rows and normalisation

    @Test func typicalLineIsValid() {
        let event = clean(typicalLine)
        #expect(
            event
                == CleanEvent(
                    userId: "user_50", episodeId: "ep_5", eventType: .play,
                    timestamp: 1_713_690_808, duration: 3418))
    }

    @Test func pauseAndSeekHaveNoDuration() {
        #expect(clean(line(type: #""pause""#, duration: "null"))?.duration == nil)
        #expect(clean(line(type: #""seek""#, duration: nil))?.eventType == .seek)
    }

    @Test func completeCarriesDuration() {
        #expect(clean(line(type: #""complete""#, duration: "1200"))?.duration == 1200)
    }

    @Test func eventTypeIsTrimmedAndLowerCased() {
        #expect(clean(line(type: #"" PLAY ""#))?.eventType == .play)
        #expect(clean(line(type: #""Complete""#))?.eventType == .complete)
        #expect(clean(line(type: #""\tSeEk\n""#, duration: nil))?.eventType == .seek)
        #expect(clean(line(type: #""PAUSE""#, duration: nil))?.eventType == .pause)
        #expect(clean(line(type: #""\u0070lay""#))?.eventType == .play)
    }

    @Test func idsAreTrimmed() {
        let event = clean(line(user: #""  user_1 \t""#, episode: #""\n ep_2 ""#))
        #expect(event?.userId == "user_1")
        #expect(event?.episodeId == "ep_2")
        #expect(clean(line(user: #"" us\u0065r_9\u0020""#))?.userId == "user_9")
        #expect(clean(line(user: #""ü ser""#))?.userId == "ü ser")
    }

    @Test func integerIdsBecomeTheirDecimalText() {
        let event = clean(line(user: "5", episode: "-12"))
        #expect(event?.userId == "5")
        #expect(event?.episodeId == "-12")
        let big = "123456789012345678901234567890"
        #expect(clean(line(user: big))?.userId == big)
    }

    @Test func timestampForms() {
        let base: Int64 = 1_713_690_808  // 2024-04-21T09:13:28Z
        #expect(clean(line(timestamp: #""2024-04-21T09:13:28Z""#))?.timestamp == base)
        #expect(clean(line(timestamp: #""2024-04-21 09:13:28""#))?.timestamp == base)
        #expect(clean(line(timestamp: #""2024-04-21T11:13:28+02:00""#))?.timestamp == base)
        #expect(clean(line(timestamp: #""2024-04-21T09:13:28.999""#))?.timestamp == base)
        #expect(clean(line(timestamp: #""  2024-04-21T09:13:28.5Z ""#))?.timestamp == base)
    }

    @Test func durationForms() {
        #expect(clean(line(duration: "300"))?.duration == 300)
        #expect(clean(line(duration: "300.0"))?.duration == 300)
        #expect(clean(line(duration: "3e2"))?.duration == 300)
        #expect(clean(line(duration: "3E+2"))?.duration == 300)
        #expect(clean(line(duration: "3000e-1"))?.duration == 300)
        #expect(clean(line(duration: "0.3e3"))?.duration == 300)
        #expect(clean(line(duration: #""300""#))?.duration == 300)
        #expect(clean(line(duration: #"" 0300 ""#))?.duration == 300)
        #expect(clean(line(duration: "31622400"))?.duration == 31_622_400)
        #expect(clean(line(duration: "3.16224e7"))?.duration == 31_622_400)
        #expect(clean(line(duration: #""31622400""#))?.duration == 31_622_400)
    }

    /// Past 366 days a duration is not a listen but a value that would poison gold's sums.
    @Test func durationBeyondAYearIsInvalid() {
        for text in [
            "31622401", "3.16224001e7", #""31622401""#, "9223372036854775807", "9.223372036854775807e18",
            "4611686018427387904",
        ] {
            #expect(codes(line(duration: text)) == [.invalidDurationForPlayComplete], "\(text)")
        }
    }

    @Test func blankLines() {
        #expect(validator.validate("") == .blank)
        #expect(validator.validate("   ") == .blank)
        #expect(validator.validate(" \t \r") == .blank)
        #expect(validate(bytes: [0x0B, 0x0C, 0x20]) == .blank)
    }

    @Test func extraKeysAreIgnored() {
        let text =
            #"{"app": {"v": [1, 2]}, "event_type": "play", "user_id": "u", "episode_id": "e", "timestamp": "2024-01-01T00:00:00", "duration": 1, "x": null}"#
        #expect(clean(text) != nil)
    }

    @Test func validatingAStringAndItsBytesAgree() {
        let text = line(user: #"" u ""#)
        #expect(validator.validate(text) == validate(bytes: Array(text.utf8)))
    }

    // MARK: one test per error code

    @Test func malformedJSON() {
        #expect(codes(#"{"event_type": "play""#) == [.malformedJSON])
        #expect(codes("not json") == [.malformedJSON])
        #expect(
            validate(bytes: Array(typicalLine.utf8.dropLast(3)) + [0xFF, 0x7D])
                == .invalid(EventErrors(.malformedJSON)))
        // Invalid UTF-8 inside an otherwise fine line.
        var bytes = Array(typicalLine.utf8)
        bytes[30] = 0xC0
        #expect(validate(bytes: bytes) == .invalid(EventErrors(.malformedJSON)))
    }

    @Test func notAnObject() {
        for text in ["42", "[1, 2]", "null", #""x""#, "true", "[]"] {
            #expect(codes(text) == [.notAnObject])
        }
    }

    @Test func missingUserId() {
        #expect(codes(line(user: "null")) == [.missingUserId])
        #expect(codes(line(user: nil)) == [.missingUserId])
    }

    @Test func emptyUserId() {
        #expect(codes(line(user: #""""#)) == [.emptyUserId])
        #expect(codes(line(user: #"" \t ""#)) == [.emptyUserId])
        #expect(codes(line(user: #""\u0020""#)) == [.emptyUserId])
    }

    @Test func invalidUserId() {
        for value in ["true", "false", "{}", "[1]", "1.5", "1e3", "1.0"] {
            #expect(codes(line(user: value)) == [.invalidUserId], "\(value)")
        }
    }

    @Test func missingEpisodeId() {
        #expect(codes(line(episode: "null")) == [.missingEpisodeId])
        #expect(codes(line(episode: nil)) == [.missingEpisodeId])
    }

    @Test func emptyEpisodeId() {
        #expect(codes(line(episode: #""""#)) == [.emptyEpisodeId])
        #expect(codes(line(episode: #""   ""#)) == [.emptyEpisodeId])
    }

    @Test func invalidEpisodeId() {
        for value in ["false", #"{"id": 1}"#, "[]", "-2.5", "2E1"] {
            #expect(codes(line(episode: value)) == [.invalidEpisodeId], "\(value)")
        }
    }

    @Test func missingEventType() {
        #expect(codes(line(type: "null")) == [.missingEventType])
        #expect(codes(line(type: nil)) == [.missingEventType])
    }

    @Test func invalidEventType() {
        for value in [
            #""""#, #""download""#, #""stop""#, #""play!""#, #""pl ay""#, "1", "true", "[]",
            #"{"t": "play"}"#, #""playing""#, #""plays""#,
        ] {
            #expect(codes(line(type: value)) == [.invalidEventType], "\(value)")
        }
        // ASCII case folding only: the Kelvin sign K (U+212A) does not make "seek".
        #expect(codes(line(type: #""SEE\u212A""#, duration: nil)) == [.invalidEventType])
    }

    @Test func missingTimestamp() {
        #expect(codes(line(timestamp: "null")) == [.missingTimestamp])
        #expect(codes(line(timestamp: nil)) == [.missingTimestamp])
    }

    @Test func invalidTimestamp() {
        for value in [
            #""""#, #""malformed-date""#, #""2024-04-21""#, #""2024-02-30T00:00:00""#,
            #""2024-04-21T24:00:00""#, #""2024-04-21T09:13""#, "1713690808", "true", "{}",
            #""2024-04-21T09:13:28+0200""#, #""2024-04-21T09:13:28.""#, #""2024-04-21  09:13:28""#,
        ] {
            #expect(codes(line(timestamp: value)) == [.invalidTimestamp], "\(value)")
        }
    }

    @Test func timestampTooEarly() {
        #expect(codes(line(timestamp: #""1999-12-31T23:59:59""#)) == [.timestampTooEarly])
        #expect(codes(line(timestamp: #""2000-01-01T01:00:00+02:00""#)) == [.timestampTooEarly])
        #expect(codes(line(timestamp: #""0000-01-01T00:00:00""#)) == [.timestampTooEarly])
        #expect(codes(line(timestamp: #""2000-01-01T00:00:00Z""#)).isEmpty)
    }

    @Test func timestampInFuture() {
        // now = 2025-01-01T00:00:00Z, skew 300 s.
        #expect(codes(line(timestamp: #""2025-01-01T00:05:00Z""#)).isEmpty)
        #expect(codes(line(timestamp: #""2025-01-01T00:05:01Z""#)) == [.timestampInFuture])
        #expect(codes(line(timestamp: #""2030-06-01T00:00:00""#)) == [.timestampInFuture])
        let strict = EventValidator(now: testNow, allowedFutureSkewSeconds: 0)
        #expect(codes(line(timestamp: #""2025-01-01T00:00:01Z""#), with: strict) == [.timestampInFuture])
        let saturating = EventValidator(now: Int64.max - 5)
        #expect(codes(line(timestamp: #""9999-12-31T23:59:59""#), with: saturating).isEmpty)
    }

    /// A valid timestamp whose UTC time falls in year 10000 is in the future whatever the
    /// skew: nothing downstream (days, dates, SQLite's date functions) can hold it.
    @Test func timestampPastYear9999IsInFutureWhateverTheSkew() {
        for skew in [Int64(315_576_000_000), Int64.max / 4, Int64.max] {
            let lenient = EventValidator(now: testNow, allowedFutureSkewSeconds: skew)
            #expect(lenient.latestTimestamp == Timestamps.latestSupported)
            #expect(codes(line(timestamp: #""9999-12-31T23:59:59Z""#), with: lenient).isEmpty)
            #expect(
                codes(line(timestamp: #""9999-12-31T23:59:59-01:00""#), with: lenient) == [.timestampInFuture]
            )
            #expect(
                codes(line(timestamp: #""9999-12-31T23:59:59.999-00:01""#), with: lenient) == [
                    .timestampInFuture
                ])
        }
        #expect(Timestamps.formatUTC(Timestamps.latestSupported) == "9999-12-31T23:59:59Z")
    }

    @Test func invalidDurationForPlayComplete() {
        for value in [
            nil, "null", "0", "-5", "-0", "123.5", #""abc""#, #""""#, #""-5""#, #""+5""#, #""3e2""#,
            #""300.0""#, "true", "[]", "{}", "9223372036854775808", "1e19", "0.0", "1e-3", #""0""#,
            #""99999999999999999999""#,
        ] as [String?] {
            #expect(
                codes(line(duration: value)) == [.invalidDurationForPlayComplete],
                "\(String(describing: value))")
            #expect(
                codes(line(type: #""complete""#, duration: value)) == [.invalidDurationForPlayComplete])
        }
    }

    @Test func nonNullDurationForOtherEvent() {
        for value in ["0", "12", #""""#, #""5""#, "false", "[]", "{}", "1.5"] {
            #expect(codes(line(type: #""pause""#, duration: value)) == [.nonNullDurationForOtherEvent])
            #expect(codes(line(type: #""seek""#, duration: value)) == [.nonNullDurationForOtherEvent])
        }
    }

    // MARK: combinations

    @Test func severalCodesOnOneRow() {
        let text = line(
            type: #""play""#, user: "null", episode: #""""#, timestamp: #""bad""#, duration: "null")
        #expect(
            codes(text) == [
                .missingUserId, .emptyEpisodeId, .invalidTimestamp, .invalidDurationForPlayComplete,
            ])
        #expect(
            codes("{}") == [.missingUserId, .missingEpisodeId, .missingEventType, .missingTimestamp])
    }

    @Test func durationRulesOnlyWithAValidEventType() {
        #expect(codes(line(type: #""download""#, duration: "null")) == [.invalidEventType])
        #expect(codes(line(type: nil, duration: #""abc""#)) == [.missingEventType])
    }

    @Test func errorTextIsCommaJoinedInCanonicalOrder() {
        guard case .invalid(let errors) = validator.validate(line(user: nil, timestamp: "1")) else {
            Issue.record("expected invalid")
            return
        }
        #expect(errors.text == "missing_user_id,invalid_timestamp")
        #expect(EventErrors(text: errors.text) == errors)
    }

    // MARK: internals

    @Test func integralNumberValue() {
        func value(_ s: String) -> Int64? {
            Array(s.utf8).withUnsafeBytes { EventValidator.integralNumberValue($0) }
        }
        #expect(value("300.0") == 300)
        #expect(value("3.00e2") == 300)
        #expect(value("0.05e2") == 5)
        #expect(value("10.50") == nil)
        #expect(value("1e18") == 1_000_000_000_000_000_000)
        #expect(value("1e19") == nil)
        #expect(value("0.0") == 0)
        #expect(value("0e999999999999999999") == 0)
        #expect(value("1e-999999999999999999") == nil)
        #expect(value("1e999999999999999999") == nil)
        #expect(value("100000000000000000000e-2") == 1_000_000_000_000_000_000)
    }
}
