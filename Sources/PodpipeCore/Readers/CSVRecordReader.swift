import CSV
import Foundation

/// Reads an RFC 4180 CSV file with a header row into records keyed by column name.
///
/// Parsing is CSV.swift's (quoted commas, quotes, newlines in fields); this type adds what
/// the pipeline needs around it: header lookup by name (any order, case-insensitive,
/// trimmed), the physical line each record starts on, and the field-count check. Reference
/// exports are small next to event logs, so the file is read whole (hashing every byte).
struct CSVRecordReader {
    struct Record {
        var line: Int
        var fields: [String]
    }

    let header: [String]
    private let reader: CSVReader
    private var nextLine = 2

    /// - Parameter text: the whole file as text (BOM already removed).
    init(text: String) throws(FileRejection) {
        do {
            reader = try CSVReader(string: text, hasHeaderRow: true)
        } catch {
            throw FileRejection.empty
        }
        guard let header = reader.headerRow, !(header.count == 1 && header[0].isEmpty) else {
            throw FileRejection.empty
        }
        self.header = header.map { $0.trimmingCharacters(in: .whitespaces) }
        nextLine = 2 + Self.embeddedLineBreaks(header)
    }

    /// Index of each required column in the header, or the missing names.
    func columnIndexes(required: [String]) -> Result<[Int], FileRejection> {
        var indexes: [Int] = []
        var missing: [String] = []
        let lower = header.map { $0.lowercased() }
        for name in required {
            if let index = lower.firstIndex(of: name) {
                indexes.append(index)
            } else {
                missing.append(name)
            }
        }
        return missing.isEmpty
            ? .success(indexes) : .failure(.missingColumns(missing, header: header))
    }

    /// The next record, skipping blank lines; nil at the end.
    mutating func next() -> Record? {
        while let fields = reader.next() {
            let line = nextLine
            nextLine += 1 + Self.embeddedLineBreaks(fields)
            if fields.count == 1 && fields[0].trimmingCharacters(in: .whitespaces).isEmpty {
                continue
            }
            return Record(line: line, fields: fields)
        }
        return nil
    }

    /// Line breaks inside quoted fields (CRLF counts once) shift later line numbers.
    static func embeddedLineBreaks(_ fields: [String]) -> Int {
        var count = 0
        for field in fields {
            var previousCR = false
            for byte in field.utf8 {
                if byte == 0x0A {
                    if !previousCR { count += 1 }
                    previousCR = false
                } else if byte == 0x0D {
                    count += 1
                    previousCR = true
                } else {
                    previousCR = false
                }
            }
        }
        return count
    }
}
