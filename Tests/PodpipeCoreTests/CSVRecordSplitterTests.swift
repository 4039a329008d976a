import Foundation
import Testing

@testable import PodpipeCore

/// The CSV record splitter (issue 14): RFC 4180 records with their raw bytes, in bounded
/// memory; an unterminated quote or an over-long record is a rejected stretch with its line,
/// and the records after it are still read.
@Suite("CSV records: raw bytes, bounds, unterminated quotes")
struct CSVRecordSplitterTests {
    typealias Item = CSVRecordSplitter.Item

    static func split(_ text: String, bound: Int = 1 << 20) -> [Item] {
        CSVRecordSplitter.split(Array(text.utf8), maxRecordBytes: bound)
    }

    static func record(_ line: Int, _ raw: String, _ fields: [String]) -> Item {
        .record(line: line, raw: Array(raw.utf8), fields: fields.map { Array($0.utf8) })
    }

    @Test func quotedCommasQuotesAndLineBreaksStayInTheirField() {
        let text = "a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\n\"two\nlines\",z\r\nlast,\"\"\n"
        #expect(
            Self.split(text) == [
                Self.record(1, "a,b", ["a", "b"]),
                Self.record(2, "\"x, y\",\"say \"\"hi\"\"\"", ["x, y", "say \"hi\""]),
                Self.record(3, "\"two\nlines\",z", ["two\nlines", "z"]),
                Self.record(5, "last,\"\"", ["last", ""]),
            ])
    }

    @Test func rawBytesAreKeptByteForByte() {
        // A quote after a closing quote, a quote inside an unquoted field, spaces: the raw
        // text is exactly what the file held (bronze keeps it); the fields read leniently.
        #expect(
            Self.split("u1,\"abc\"def,x\n") == [Self.record(1, "u1,\"abc\"def,x", ["u1", "abcdef", "x"])])
        #expect(Self.split("ab\"c, d ,\n") == [Self.record(1, "ab\"c, d ,", ["ab\"c", " d ", ""])])
    }

    @Test func bomBlankLinesLastLineAndLoneCR() {
        #expect(
            Self.split("\u{FEFF}h\n\n  \nv\rw") == [
                Self.record(1, "h", ["h"]), Self.record(4, "v", ["v"]), Self.record(5, "w", ["w"]),
            ])
    }

    @Test func anUnterminatedQuoteAtTheEndIsReportedWithItsLineAndTheRestIsRead() {
        let text = "h1,h2\nu1,ok\nu2,\"never closed\nu3,fine\nu4,fine\n"
        #expect(
            Self.split(text) == [
                Self.record(1, "h1,h2", ["h1", "h2"]), Self.record(2, "u1,ok", ["u1", "ok"]),
                .unterminatedQuote(line: 3, raw: Array("u2,\"never closed".utf8)),
                Self.record(4, "u3,fine", ["u3", "fine"]), Self.record(5, "u4,fine", ["u4", "fine"]),
            ])
        #expect(
            Self.split("a\n\"x") == [
                Self.record(1, "a", ["a"]), .unterminatedQuote(line: 2, raw: Array("\"x".utf8)),
            ])
    }

    @Test func aQuoteOpenPastTheBoundIsStrayAndReadingResumesOnTheNextLine() {
        // Bound 20: the open quote on line 2 would swallow every later line.
        var text = "h\n\"open,x\n"
        for n in 0..<50 { text += "u\(n),y\n" }
        let items = Self.split(text, bound: 20)
        #expect(
            items.prefix(3) == [
                Self.record(1, "h", ["h"]), .unterminatedQuote(line: 2, raw: Array("\"open,x".utf8)),
                Self.record(3, "u0,y", ["u0", "y"]),
            ])
        #expect(items.count == 52)
        #expect(items.last == Self.record(52, "u49,y", ["u49", "y"]))
    }

    @Test func aRecordPastTheBoundIsTooLongWithItsFirstBytesAndTheLineIsSkipped() {
        let long = String(repeating: "x", count: 10_000)
        let items = Self.split("a\n\(long),y\nb\n", bound: 5000)
        #expect(items.count == 3)
        #expect(items[0] == Self.record(1, "a", ["a"]))
        #expect(
            items[1] == .tooLong(line: 2, prefix: Array(long.utf8.prefix(CSVRecordSplitter.keptPrefixBytes))))
        #expect(items[2] == Self.record(3, "b", ["b"]))
    }

    @Test func aNULNamesItsLine() {
        #expect(
            Self.split("h\na\n\"b\nc\u{00}\"\nd\n") == [
                Self.record(1, "h", ["h"]), Self.record(2, "a", ["a"]), .nul(line: 4),
            ])
    }

    @Test func chunkBoundariesDoNotChangeTheItems() {
        let text = Array("h1,h2\r\n\"a\r\nb\",\"c\"\"d\"\r\n\"open\rx,y\r\nlast,1\r".utf8)
        let whole = CSVRecordSplitter.split(text, maxRecordBytes: 12)
        for cut in 0...text.count {
            var splitter = CSVRecordSplitter(maxRecordBytes: 12)
            var items: [Item] = []
            splitter.append(text[..<cut])
            while let item = splitter.next() { items.append(item) }
            splitter.append(text[cut...])
            splitter.finish()
            while let item = splitter.next() { items.append(item) }
            #expect(items == whole, "cut at \(cut)")
        }
        // One byte at a time, too.
        var splitter = CSVRecordSplitter(maxRecordBytes: 12)
        var items: [Item] = []
        for byte in text {
            splitter.append([byte])
            while let item = splitter.next() { items.append(item) }
        }
        splitter.finish()
        while let item = splitter.next() { items.append(item) }
        #expect(items == whole)
    }

    @Test func memoryStaysWithinTheBoundOnAnUnterminatedQuote() {
        // 8 MB after an open quote, fed in 64 KiB chunks, bound 64 KiB: the buffer never
        // holds much more than one bound and one chunk.
        var splitter = CSVRecordSplitter(maxRecordBytes: 1 << 16)
        splitter.append(Array("h\n\"".utf8))
        let chunk = [UInt8](repeating: 0x61, count: 1 << 16)
        var items: [Item] = []
        for _ in 0..<128 {
            splitter.append(chunk)
            while let item = splitter.next() { items.append(item) }
            #expect(splitter.bufferedBytes <= 4 << 16)
        }
        splitter.finish()
        while let item = splitter.next() { items.append(item) }
        #expect(items.count == 2)
        #expect(items.first == Self.record(1, "h", ["h"]))
        if case .tooLong(let line, let prefix) = items.last {
            #expect(line == 2 && prefix.count == CSVRecordSplitter.keptPrefixBytes)
        } else {
            Issue.record(
                "expected the open quote's record to be too long, got \(String(describing: items.last))")
        }
    }

    @Test func theReaderRejectsDuplicateHeaderNamesAndNULsWithTheirLine() throws {
        #expect(
            throws: FileRejection.duplicateColumns(
                ["user_id"],
                header: ["user_id", "country", "User_ID "].map { $0.trimmingCharacters(in: .whitespaces) })
        ) {
            _ = try CSVRecordReader(bytes: Array("user_id,country,User_ID \nu1,DE,u2\n".utf8))
        }
        var reader = try CSVRecordReader(bytes: Array("user_id,country\nu1,DE\nu2,D\u{00}E\n".utf8))
        #expect(try reader.next() == .record(.init(line: 2, raw: "u1,DE", fields: ["u1", "DE"])))
        #expect(throws: FileRejection.csvBinary(line: 3)) { _ = try reader.next() }
        #expect(FileRejection.csvBinary(line: 3).message.contains("not CSV text"))
        #expect(throws: FileRejection.csvBinary(line: 1)) { _ = try CSVRecordReader(bytes: [0x61, 0x00]) }
    }
}
