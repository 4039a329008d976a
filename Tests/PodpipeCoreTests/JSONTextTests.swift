import Foundation
import PodpipeSampleData
import Testing

@testable import PodpipeCore

/// Bronze keeps a reference record as a JSON object built by hand: every text must come
/// back unchanged through a JSON parser, on the fast path (nothing to escape) and the slow
/// one alike.
@Suite("JSON text written by hand")
struct JSONTextTests {
    @Test func everyTextRoundTripsThroughAJSONParser() throws {
        var rng = SplitMix64(seed: 7)
        let pieces = [
            "a", "Z", "9", " ", "é", "日本", "🎧", "\"", "\\", "\n", "\r", "\t", "\u{01}", "\u{1F}", "/", ",",
        ]
        var texts = ["", "plain", "with \"quotes\"", "back\\slash", "line\nbreak", "user_3627"]
        for _ in 0..<500 {
            texts.append((0..<rng.below(12)).map { _ in pieces[rng.below(pieces.count)] }.joined())
        }
        for text in texts {
            let literal = JSONText.string(text)
            let parsed = try JSONSerialization.jsonObject(
                with: Data(literal.utf8), options: [.fragmentsAllowed])
            #expect(parsed as? String == text, "\(literal)")
        }
    }

    @Test func aRecordIsOneObjectWithExtraFieldsNamed() throws {
        let raw = ReferenceFileLoader.jsonObject(
            header: ["user_id", "country"], fields: ["u\"1", "DE", "x"])
        let object = try #require(
            JSONSerialization.jsonObject(with: Data(raw.utf8)) as? [String: String])
        #expect(object == ["user_id": "u\"1", "country": "DE", "_extra_3": "x"])
    }
}
