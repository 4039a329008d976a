// libFuzzer target for the reference CSV path: CSV.swift's reader under podpipe's
// CSVRecordReader (header lookup, line numbers, field-count check) and the episode and
// user field rules (PodpipeRules). Built by Fuzz/run.sh over CSV.swift's sources,
// Sources/PodpipeCore/Readers/CSVRecordReader.swift (its `import CSV` removed: one module),
// Sources/PodpipeRules/*.swift and this file. Properties, for every UTF-8 input:
//   - no crash, no hang; every record's line number is within the text and increasing;
//   - a valid episode has a positive duration and a non-empty id; a valid user a country.

import Foundation

/// The two rejections CSVRecordReader can raise (the real type lives in PodpipeCore).
enum FileRejection: Error, Equatable {
    case empty
    case missingColumns([String], header: [String])
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let text = String(validating: bytes, as: UTF8.self) else { return 0 }
    let physicalLines = text.utf8.reduce(1) { $0 + ($1 == 0x0A || $1 == 0x0D ? 1 : 0) }
    guard var reader = try? CSVRecordReader(text: text) else { return 0 }
    let episodes = reader.columnIndexes(required: ["episode_id", "podcast_id", "title", "release_date", "duration_seconds"])
    let users = reader.columnIndexes(required: ["user_id", "signup_date", "country"])
    var lastLine = 1
    var records = 0
    while let record = reader.next() {
        records += 1
        precondition(record.line > lastLine, "record line numbers must increase")
        precondition(record.line <= physicalLines + 1, "record line \(record.line) past the text")
        lastLine = record.line
        guard record.fields.count == reader.header.count else { continue }
        if case .success(let index) = episodes {
            let f = index.map { record.fields[$0] }
            if case .success(let episode) = ReferenceRules.validateEpisode(
                episodeId: f[0], podcastId: f[1], title: f[2], releaseDate: f[3], durationSeconds: f[4])
            {
                precondition(episode.durationSeconds > 0 && !episode.episodeId.isEmpty)
                precondition(Timestamps.parseDay(episode.releaseDate) != nil)
            }
        }
        if case .success(let index) = users {
            let f = index.map { record.fields[$0] }
            if case .success(let user) = ReferenceRules.validateUser(
                userId: f[0], signupDate: f[1], country: f[2])
            {
                precondition(!user.userId.isEmpty && !user.country.isEmpty)
            }
        }
        if records > 100_000 { break }
    }
    return 0
}
