import Foundation
import Testing

@testable import PodpipeCore

#if canImport(Glibc)
    import Glibc
#endif

/// The PostgreSQL connection layer (issue 18) against a real server started for the test.
@Suite("PostgreSQL connection (libpq) against a real server", .serialized)
struct PostgresConnectionTests {
    @Test func copyQueryErrorsAndDeadlines() throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let connection = try PostgresConnection(uri: server.uri, timeout: 20)
        try connection.execute("CREATE TABLE t (id bigint PRIMARY KEY, raw text, n bigint)")

        // COPY text: tabs, newlines, backslashes, NULL and non-ASCII come back as they went.
        let values: [(Int64, String?, Int64?)] = [
            (1, "plain", 5), (2, "tab\there", nil), (3, "line\nbreak\r\n", -1), (4, "back\\slash \\N", 0),
            (5, nil, 7), (6, "é ✓ \u{1b}[2J", Int64.max),
        ]
        var index = 0
        let copied = try connection.copyIn("COPY t (id, raw, n) FROM STDIN") {
            guard index < values.count else { return nil }
            defer { index += 1 }
            let (id, raw, n) = values[index]
            return PostgresCopyText.line([String(id), raw, n.map(String.init)])
        }
        #expect(copied == 6)
        let rows = try connection.query("SELECT id, raw, n FROM t ORDER BY id")
        #expect(rows.columns == ["id", "raw", "n"])
        #expect(rows.rows.map { $0[1] } == values.map(\.1))
        #expect(rows.rows.map { $0[2] } == values.map { $0.2.map(String.init) })

        // Parameters are values, never SQL.
        let hostile = "x'); DROP TABLE t; --"
        try connection.query("INSERT INTO t (id, raw) VALUES ($1, $2)", ["7", hostile])
        #expect(try connection.query("SELECT raw FROM t WHERE id = $1", ["7"]).scalar == hostile)
        #expect(try connection.query("SELECT count(*) FROM t").scalar == "7")

        // A refused statement says why, with its SQLSTATE; the connection stays usable.
        #expect {
            try connection.query("SELECT * FROM no_such_table")
        } throws: { error in
            guard case .statement(_, let state, _) = error as? PostgresError else { return false }
            return state == "42P01"
        }
        #expect {
            try connection.query("INSERT INTO t (id) VALUES (1)")
        } throws: { error in
            guard case .statement(_, let state, _) = error as? PostgresError else { return false }
            return state == "23505"
        }
        #expect(try connection.query("SELECT 1").scalar == "1")

        // A statement that outlives its deadline is cancelled and the connection closed.
        let started = Date()
        #expect {
            try connection.query("SELECT pg_sleep(30)", timeout: 0.5)
        } throws: { error in
            guard case .timeout = error as? PostgresError else { return false }
            return true
        }
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(throws: PostgresError.self) { try connection.query("SELECT 1") }
        // The server is fine: a new connection works.
        #expect(try PostgresConnection(uri: server.uri).query("SELECT count(*) FROM t").scalar == "7")
    }

    @Test func aServerThatNeverAnswersMeetsTheConnectDeadline() throws {
        // A TCP socket that listens but never speaks: the kernel completes the handshake,
        // libpq sends its start-up packet and would wait for an answer forever.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(bound == 0)
        #expect(listen(listener, 4) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        let port = UInt16(bigEndian: address.sin_port)
        let started = Date()
        #expect {
            _ = try PostgresConnection(
                uri: "postgresql://podpipe@127.0.0.1:\(port)/db?sslmode=disable&connect_timeout=0", timeout: 1
            )
        } throws: { error in
            guard case .timeout = error as? PostgresError else { return false }
            return true
        }
        #expect(Date().timeIntervalSince(started) < 10)
    }
}
