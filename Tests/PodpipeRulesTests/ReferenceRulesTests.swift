import Testing

@testable import PodpipeRules

private func episode(
    id: String = "ep_1", podcast: String = "pod_1", title: String = "Pilot, part \"1\"",
    release: String = "2024-01-15", duration: String = "1800"
) -> Result<CleanEpisode, ReferenceErrors> {
    ReferenceRules.validateEpisode(
        episodeId: id, podcastId: podcast, title: title, releaseDate: release,
        durationSeconds: duration)
}

private func user(id: String = "user_1", signup: String = "2023-11-02", country: String = "DE")
    -> Result<CleanUser, ReferenceErrors>
{
    ReferenceRules.validateUser(userId: id, signupDate: signup, country: country)
}

private func errorCodes<T>(_ result: Result<T, ReferenceErrors>) -> [ReferenceErrorCode] {
    if case .failure(let errors) = result { return errors.codes }
    return []
}

@Suite("Reference CSV row rules (SPEC §4.1.2)")
struct ReferenceRulesTests {
    @Test func validEpisodeIsNormalised() throws {
        let result = episode(
            id: " ep_1 ", podcast: "  pod_1\t", title: "  Pilot, \"1\"  ", release: " 2024-01-15 ",
            duration: " 1800 ")
        #expect(
            try result.get()
                == CleanEpisode(
                    episodeId: "ep_1", podcastId: "pod_1", title: "  Pilot, \"1\"  ",
                    releaseDate: "2024-01-15", durationSeconds: 1800))
    }

    @Test func episodePodcastIdMayBeEmpty() throws {
        #expect(try episode(podcast: "  ").get().podcastId == "")
    }

    @Test func validUserIsNormalised() throws {
        #expect(
            try user(id: " user_1 ", signup: "2024-02-29 ", country: " de ").get()
                == CleanUser(userId: "user_1", signupDate: "2024-02-29", country: "de"))
    }

    @Test func wrongFieldCount() {
        let errors = ReferenceErrors.wrongFieldCount
        #expect(errors.codes == [.wrongFieldCount])
        #expect(errors.text == "wrong_field_count")
    }

    @Test func missingEpisodeId() {
        #expect(errorCodes(episode(id: "")) == [.missingEpisodeId])
        #expect(errorCodes(episode(id: " \t ")) == [.missingEpisodeId])
    }

    @Test func invalidReleaseDate() {
        for value in [
            "", "2024-02-30", "2023-02-29", "2024-1-15", "15/01/2024", "2024-01-15T00:00:00", "soon",
        ] {
            #expect(errorCodes(episode(release: value)) == [.invalidReleaseDate], "\(value)")
        }
    }

    @Test func invalidDurationSeconds() throws {
        for value in ["", "0", "-5", "+5", "300.0", "3e2", "abc", "12 3", "99999999999999999999"] {
            #expect(errorCodes(episode(duration: value)) == [.invalidDurationSeconds], "\(value)")
        }
        #expect(try episode(duration: "0300").get().durationSeconds == 300)
    }

    @Test func missingUserId() {
        #expect(errorCodes(user(id: "")) == [.missingUserId])
        #expect(errorCodes(user(id: "   ")) == [.missingUserId])
    }

    @Test func invalidSignupDate() {
        for value in ["", "2024-13-01", "2024-04-31", "yesterday", "2024-04-01T00:00:00Z"] {
            #expect(errorCodes(user(signup: value)) == [.invalidSignupDate], "\(value)")
        }
    }

    @Test func missingCountry() {
        #expect(errorCodes(user(country: "")) == [.missingCountry])
        #expect(errorCodes(user(country: " \t")) == [.missingCountry])
    }

    @Test func severalCodesInCanonicalOrder() {
        let result = episode(id: "", release: "x", duration: "0")
        #expect(errorCodes(result) == [.missingEpisodeId, .invalidReleaseDate, .invalidDurationSeconds])
        guard case .failure(let errors) = user(id: " ", signup: "", country: "") else {
            Issue.record("expected failure")
            return
        }
        #expect(errors.text == "missing_user_id,invalid_signup_date,missing_country")
        #expect(ReferenceErrors(text: errors.text) == errors)
        #expect(
            ReferenceErrors([.missingCountry, .missingUserId, .missingCountry]).codes == [
                .missingUserId, .missingCountry,
            ])
    }

    @Test func trimmingKeepsUnicodeAndInnerSpaces() {
        #expect(ReferenceRules.trimmed("  a b  ") == "a b")
        #expect(ReferenceRules.trimmed("\u{A0}x\u{A0}") == "\u{A0}x\u{A0}")  // only ASCII whitespace
        #expect(ReferenceRules.trimmed(" é ") == "é")
        #expect(ReferenceRules.trimmed("   ") == "")
        #expect(ReferenceRules.trimmed("") == "")
    }
}
