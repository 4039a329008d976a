// libFuzzer target for the NDJSON scanner and the event validator (PodpipeRules).
// Built by Fuzz/run.sh with `swiftc -sanitize=fuzzer,address -parse-as-library` over
// Sources/PodpipeRules/*.swift and this file. Besides "never crash, never hang", it checks
// properties that must hold for every input line:
//   - blank lines are exactly the ASCII-whitespace-only lines;
//   - a line the scanner calls malformed is not valid JSON, and a valid row is valid JSON;
//   - a valid row's fields are non-empty, its timestamp lies in the accepted window;
//   - the result does not depend on the bytes around the line (a copy validates the same).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNDJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let line = UnsafeRawBufferPointer(start: data, count: size)
    let validator = EventValidator(now: 1_800_000_000, allowedFutureSkewSeconds: 300)
    let outcome = validator.validate(line)
    let blank = EventValidator.isBlank(line)
    switch outcome {
    case .blank:
        precondition(blank, "blank outcome for a non-blank line")
    case .valid(let event):
        precondition(!blank)
        precondition(NDJSONScanner.isValidJSON(line), "valid row from invalid JSON")
        precondition(!event.userId.isEmpty && !event.episodeId.isEmpty, "valid row with an empty id")
        precondition(
            event.timestamp >= EventValidator.earliestTimestamp && event.timestamp <= validator.latestTimestamp,
            "valid row outside the time window")
    case .invalid(let errors):
        precondition(!blank)
        precondition(!errors.isEmpty, "invalid row without a code")
        if errors.contains(.malformedJSON) {
            precondition(errors == EventErrors(.malformedJSON), "malformed_json must be the only code")
            precondition(!NDJSONScanner.isValidJSON(line), "malformed_json on valid JSON")
        }
    }
    // The same bytes in a fresh buffer (no reads past the end influence the result).
    let copy = [UInt8](line)
    let again = copy.withUnsafeBytes { validator.validate($0) }
    precondition(again == outcome, "validation is not deterministic")
    // Timestamps: parsing arbitrary bytes never crashes; a parsed value formats and parses back.
    if let seconds = Timestamps.parse(line), seconds >= 0, seconds < 253_402_300_800 {
        let text = Timestamps.formatUTC(seconds)
        precondition(Timestamps.parse(text) == seconds, "timestamp does not round-trip: \(text)")
    }
    return 0
}
