import PodpipeRules
import Testing

@testable import PodpipeCore

@Suite("the database setting: a SQLite path or a PostgreSQL URI")
struct DatabaseLocationTests {
    @Test func aURIIsNeverAPath() {
        #expect(DatabaseLocation("postgresql://h/db") == .postgresql(uri: "postgresql://h/db"))
        #expect(DatabaseLocation("POSTGRES://h/db") == .postgresql(uri: "POSTGRES://h/db"))
        #expect(
            DatabaseLocation("/var/lib/podpipe/podpipe.sqlite")
                == .sqlite(path: "/var/lib/podpipe/podpipe.sqlite"))
        #expect(DatabaseLocation("postgresql.sqlite") == .sqlite(path: "postgresql.sqlite"))
    }

    @Test func passwordsAreNeverShown() {
        #expect(
            DatabaseLocation.redacting("postgresql://u:s3cret@h:5432/db") == "postgresql://u:***@h:5432/db")
        #expect(DatabaseLocation.redacting("postgresql://u@h/db") == "postgresql://u@h/db")
        #expect(
            DatabaseLocation.redacting("postgresql://h/db?user=u&password=s3cret&sslmode=require")
                == "postgresql://h/db?user=u&password=***&sslmode=require")
        #expect(DatabaseLocation.redacting("postgresql://u:p@ss@h/db") == "postgresql://u:***@h/db")
    }

    @Test func copyTextEscapesWhatTheFormatRequires() {
        #expect(
            PostgresCopyText.line(["a\tb", nil, "c\\d\ne\r", ""])
                == Array("a\\tb\t\\N\tc\\\\d\\ne\\r\t\n".utf8))
    }

    /// PostgreSQL's text holds neither NUL nor invalid UTF-8: a bronze line's raw bytes keep
    /// every valid character and get U+FFFD for each invalid sequence and each NUL.
    @Test func rawBytesBecomeTextPostgreSQLAccepts() {
        func raw(_ bytes: [UInt8]) -> [UInt8] {
            var out: [UInt8] = []
            bytes.withUnsafeBytes { PostgresCopyText.raw($0, into: &out) }
            return out
        }
        #expect(raw(Array("plain\tjson".utf8)) == Array("plain\\tjson".utf8))
        #expect(raw(Array("é ✓".utf8)) == Array("é ✓".utf8))
        #expect(raw([0x61, 0xFF, 0x62]) == Array("a\u{FFFD}b".utf8))
        #expect(raw([0x61, 0x00, 0x5C]) == Array("a\u{FFFD}\\\\".utf8))
        #expect(PostgresCopyText.line(["a\u{0}b"]) == Array("a\u{FFFD}b\n".utf8))
    }

    @Test func aDatabaseWithMigrationsThisBinaryLacksIsNewer() {
        #expect(
            PostgresMigrations.unknown(recorded: ["0001_a", "0002_b"], known: ["0001_a", "0002_b"]).isEmpty)
        #expect(PostgresMigrations.unknown(recorded: ["0001_a"], known: ["0001_a", "0002_b"]).isEmpty)
        #expect(PostgresMigrations.unknown(recorded: ["0003_c", "0001_a"], known: ["0001_a"]) == ["0003_c"])
        #expect(PostgresMigrations.files().first?.0 == "0001_ledger_bronze_silver")
    }

    /// Both engines count an event file's lines with one function; PostgreSQL learns how
    /// many valid lines were new from the database afterwards.
    @Test func eventLinesAreCountedOnceForBothEngines() throws {
        func line(_ number: Int64, _ outcome: LineOutcome) -> ParsedLine {
            ParsedLine(lineNo: number, start: 0, length: 0, outcome: outcome)
        }
        let validator = EventValidator(now: 2_000_000_000, allowedFutureSkewSeconds: 300)
        let valid = validator.validate(
            #"{"event_type": "play", "user_id": "u", "episode_id": "e", "timestamp": "2024-01-01T00:00:00Z", "duration": 5}"#
        )
        let invalid = validator.validate("{nope")
        var sqlite = FileLoadCounts()
        #expect(sqlite.count(line(1, valid), inserted: true) == .silver)
        #expect(sqlite.count(line(2, valid), inserted: false) == .duplicate)
        guard case .rejected(let codes) = sqlite.count(line(3, invalid), inserted: nil) else {
            Issue.record("an invalid line is rejected")
            return
        }
        var postgres = FileLoadCounts()
        #expect(postgres.count(line(1, valid), inserted: nil) == .valid)
        #expect(postgres.count(line(2, valid), inserted: nil) == .valid)
        #expect(postgres.count(line(3, invalid), inserted: nil) == .rejected(codes))
        postgres.countValid(loaded: 1)
        #expect(postgres == sqlite)
        #expect(sqlite.firstError == codes && sqlite.firstErrorLine == 3)
        try sqlite.finishEventFile()
        var empty = FileLoadCounts()
        #expect(throws: FileRejection.empty) { try empty.finishEventFile() }
    }
}
