import Foundation
import GRDB
import Logging
import PodpipeRules
import Synchronization
import Testing

@testable import PodpipeCore

/// The next event file's parse begins while the current file's last rows are inserted
/// (``ParseAhead``): the file's turn takes it, anything else stops it, and the rows, ids and
/// ledger are those of a load without it.
@Suite("pipeline: the next file parsed ahead")
struct ParseAheadTests {
    /// Whether a parse waited when each file's last run met silver (after its parser ended).
    final class AheadProbe: IngestObserver {
        let seen = Mutex<[Bool]>([])
        let ahead = Mutex<ParseAhead?>(nil)
        func eventFileBegins(silverLast: Int64, expectedEvents: Int64, _ db: Database) throws {}
        func eventRowsInserted(_ rows: [SilverRow], inserted: [Bool]) {
            let waiting = ahead.withLock { $0?.isWaiting ?? false }
            seen.withLock { $0.append(waiting) }
        }
        func fileRolledBack() {}
        func fileCommitted() {}
    }

    static func candidate(_ path: String, kind: FileKind = .events) throws -> Candidate {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return Candidate(
            name: (path as NSString).lastPathComponent, path: path, kind: kind, gzip: false,
            size: (attributes[.size] as? NSNumber)?.int64Value ?? 0, mtimeNs: 0)
    }

    @Test func eachFileButTheLastFindsTheNextOneParsingAndTheRowsAreTheSame() throws {
        let folder = try TemporaryFolder("parse-ahead")
        defer { folder.remove() }
        let dataLoad = try folder.folder("in")
        try GroupCommitTests.drop(into: dataLoad)
        for groupSeconds in [3_600.0, 0] {
            let probe = AheadProbe()
            let store = try Store.openForWriting(path: folder.path("db-\(Int(groupSeconds)).sqlite"))
            let pipeline = Pipeline(
                store: store, settings: PipelineSettings(dataLoad: dataLoad, groupSeconds: groupSeconds),
                logger: Logger(label: "test"), observer: probe)
            probe.ahead.withLock { $0 = pipeline.ahead }
            let pass = try pipeline.ingestPending()
            #expect(pass.outcomes.map(\.state) == [.loaded, .loaded, .loaded, .loaded, .loaded])
            // a, b, c: the next file was parsing when their last rows went in; d is the last.
            #expect(probe.seen.withLock { $0 } == [true, true, true, false], "group seconds \(groupSeconds)")
            #expect(!pipeline.ahead.isWaiting)
        }
        // Grouped or not, parsed ahead or not: the same rows, ids and ledger.
        let alone = try Store.openForWriting(path: folder.path("alone.sqlite"))
        for name in ["users.csv"] + GroupCommitTests.names {
            let pipeline = Pipeline(
                store: alone, settings: PipelineSettings(dataLoad: dataLoad, groupSeconds: 0),
                logger: Logger(label: "test"))
            _ = try pipeline.ingest(
                try Self.candidate(dataLoad + "/" + name, kind: name == "users.csv" ? .users : .events))
        }
        let reference = try GroupCommitTests.snapshot(folder.path("alone.sqlite"))
        #expect(try GroupCommitTests.snapshot(folder.path("db-3600.sqlite")) == reference)
        #expect(try GroupCommitTests.snapshot(folder.path("db-0.sqlite")) == reference)
    }

    /// A file whose bytes turn out to be known (a copy of a loaded one) is settled without its
    /// rows: the parse begun for it is stopped, and the pass ends with nothing waiting.
    @Test func aParseBegunForAFileSettledWithoutItsRowsIsStopped() throws {
        let folder = try TemporaryFolder("parse-ahead-copy")
        defer { folder.remove() }
        let dataLoad = try folder.folder("in")
        try GroupCommitTests.drop(into: dataLoad)
        let copy = dataLoad + "/e.ndjson"
        try FileManager.default.copyItem(atPath: dataLoad + "/a.ndjson", toPath: copy)
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSince1970: 1_700_001_000)], ofItemAtPath: copy)
        let store = try Store.openForWriting(path: folder.path("db.sqlite"))
        let pipeline = Pipeline(
            store: store, settings: PipelineSettings(dataLoad: dataLoad, groupSeconds: 3_600),
            logger: Logger(label: "test"))
        let pass = try pipeline.ingestPending()
        #expect(pass.outcomes.map(\.state) == [.loaded, .loaded, .loaded, .loaded, .loaded, .duplicate])
        #expect(!pipeline.ahead.isWaiting)
    }

    @Test func aParseIsTakenByItsFileOnlyAndStoppedOtherwise() throws {
        let folder = try TemporaryFolder("parse-ahead-unit")
        defer { folder.remove() }
        let dataLoad = try folder.folder("in")
        try GroupCommitTests.drop(into: dataLoad)
        let a = try Self.candidate(dataLoad + "/a.ndjson")
        let b = try Self.candidate(dataLoad + "/b.ndjson")
        let ahead = ParseAhead()
        let validator = EventValidator(now: 2_000_000_000, allowedFutureSkewSeconds: 0)
        ahead.start(a, validator: validator, lineReader: LineReader(maxLineBytes: 1 << 20))
        #expect(ahead.isWaiting)
        // A second start does not replace the waiting parse.
        ahead.start(b, validator: validator, lineReader: LineReader(maxLineBytes: 1 << 20))
        #expect(ahead.take(b) == nil)
        #expect(!ahead.isWaiting)
        ahead.start(a, validator: validator, lineReader: LineReader(maxLineBytes: 1 << 20))
        let parse = try #require(ahead.take(a))
        var lines = 0
        while let message = parse.handOff.take() {
            if case .batch(let batch) = message { lines += batch.lines.count }
            if case .end = message { break }
        }
        parse.stop()
        parse.stop()
        #expect(lines == 300)
        // Reference files and files that cannot be opened are left for their turn.
        ahead.start(
            try Self.candidate(dataLoad + "/users.csv", kind: .users), validator: validator,
            lineReader: LineReader(maxLineBytes: 1 << 20))
        #expect(!ahead.isWaiting)
        var gone = a
        gone.path = dataLoad + "/missing.ndjson"
        ahead.start(gone, validator: validator, lineReader: LineReader(maxLineBytes: 1 << 20))
        #expect(!ahead.isWaiting)
        ahead.discard()
    }
}
