// libFuzzer target for the reference CSV path: podpipe's record splitter
// (Sources/PodpipeCore/Readers/CSVRecordSplitter.swift), the CSVRecordReader over it (header
// lookup, UTF-8, rejected stretches) and the episode and user field rules (PodpipeRules).
// Built by Fuzz/run.sh as one module (the reader's `import PodpipeRules` removed).
// Properties, for every input (bytes, not only UTF-8):
//   - no crash, no hang; record line numbers are within the input and increasing;
//   - with a small bound, no record's raw bytes exceed it, and the same items come out
//     when the input arrives in two chunks split anywhere (the streaming is invisible);
//   - a valid episode has a positive duration and a non-empty id; a valid user a country.

import Foundation

/// The rejections CSVRecordReader can raise (the real type lives in PodpipeCore).
enum FileRejection: Error, Equatable {
    case empty
    case notUTF8
    case csvBinary(line: Int)
    case duplicateColumns([String], header: [String])
    case badHeader(line: Int, reason: String)
    case missingColumns([String], header: [String])
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let physicalLines = bytes.reduce(1) { $0 + ($1 == 0x0A || $1 == 0x0D ? 1 : 0) }

    // The splitter: bounded records, increasing lines, and the same items in two chunks.
    let bound = 64
    let whole = CSVRecordSplitter.split(bytes, maxRecordBytes: bound)
    var lastLine = 0
    for item in whole {
        switch item {
        case .record(let line, let raw, _):
            precondition(raw.count <= bound, "a record past the bound")
            precondition(line > lastLine && line <= physicalLines, "record line \(line) out of order")
            lastLine = line
        case .tooLong(let line, _), .unterminatedQuote(let line, _), .nul(let line):
            precondition(line > lastLine - 1 && line <= physicalLines, "item line \(line) out of order")
            lastLine = line
        }
    }
    let cut = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    var splitter = CSVRecordSplitter(maxRecordBytes: bound)
    var chunked: [CSVRecordSplitter.Item] = []
    splitter.append(bytes[..<cut])
    while let item = splitter.next() { chunked.append(item) }
    splitter.append(bytes[cut...])
    splitter.finish()
    while let item = splitter.next() { chunked.append(item) }
    precondition(chunked == whole, "splitting depends on where the chunks end")

    // The reader and the rules.
    guard var reader = try? CSVRecordReader(bytes: bytes) else { return 0 }
    let episodes = reader.columnIndexes(required: [
        "episode_id", "podcast_id", "title", "release_date", "duration_seconds",
    ])
    let users = reader.columnIndexes(required: ["user_id", "signup_date", "country"])
    var records = 0
    while let item = try? reader.next() {
        records += 1
        if records > 100_000 { break }
        guard case .record(let record) = item, record.fields.count == reader.header.count else { continue }
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
    }
    return 0
}
