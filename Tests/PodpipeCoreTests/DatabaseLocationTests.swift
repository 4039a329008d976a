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
}
