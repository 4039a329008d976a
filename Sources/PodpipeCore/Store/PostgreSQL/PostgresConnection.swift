import CLibPQ
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One connection to a PostgreSQL server through libpq, used synchronously by one thread
/// (like the SQLite writer), every call bounded by a deadline of ours: libpq's blocking
/// calls wait forever on a server that stopped answering, so this drives its non-blocking
/// API (`PQconnectStartParams`/`PQconnectPoll`, `PQsendQueryParams`, `PQputCopyData`) and
/// waits in poll(2) on its socket until the deadline. On a deadline the connection is closed
/// (not cancelled: `PQcancel` opens a second connection and blocks on a server that does
/// not answer, the very case the deadline is for); the caller's transaction is then lost,
/// never half-applied, and the server ends the statement when it sees the client gone
/// (`client_connection_check_interval`, set at connect where the server has it).
///
/// Connection settings come from the URI and libpq's usual sources (`PGHOST`, `PGUSER`,
/// `PGPASSWORD`, … and `~/.pgpass`), which libpq reads itself.
final class PostgresConnection {
    private var connection: OpaquePointer?
    /// The URI with any password hidden, for messages.
    let location: String
    /// Seconds a connect or a statement may take, unless the call gives its own.
    var timeout: Double

    /// Connects to `uri` (`postgresql://…`), waiting at most `timeout` seconds.
    /// - Throws: ``PostgresError`` (`.connect` with libpq's message, or `.timeout`).
    init(uri: String, timeout: Double = 30) throws(PostgresError) {
        location = DatabaseLocation.redacting(uri)
        self.timeout = timeout
        let deadline = Date().addingTimeInterval(timeout)
        let pointer: OpaquePointer? = "dbname".withCString { key in
            uri.withCString { value in
                var keys: [UnsafePointer<CChar>?] = [key, nil]
                var values: [UnsafePointer<CChar>?] = [value, nil]
                // expand_dbname = 1: the "dbname" value is a URI whose parts are used.
                return PQconnectStartParams(&keys, &values, 1)
            }
        }
        guard let pointer else { throw .connect(location: location, message: "out of memory") }
        connection = pointer
        if PQstatus(pointer) == CONNECTION_BAD {
            let message = Self.message(pointer)
            close()
            throw .connect(location: location, message: message)
        }
        var state = PGRES_POLLING_WRITING
        while state != PGRES_POLLING_OK {
            if state == PGRES_POLLING_FAILED {
                let message = Self.message(pointer)
                close()
                throw .connect(location: location, message: message)
            }
            do {
                try wait(forWriting: state == PGRES_POLLING_WRITING, until: deadline)
            } catch {
                close()
                throw .timeout(location: location, seconds: timeout, what: "connecting")
            }
            state = PQconnectPoll(pointer)
        }
        _ = PQsetnonblocking(pointer, 1)
        // The server's notices (`CREATE TABLE IF NOT EXISTS` skipping, …) would go to stderr
        // unformatted, past the logger: dropped. Errors come back with their results.
        _ = PQsetNoticeProcessor(pointer, { _, _ in }, nil)
        // PostgreSQL 14+: a statement whose client went away (our deadline) stops within a
        // second instead of running to its end. Older servers refuse the setting: ignored.
        _ = try? query("SET client_connection_check_interval = 1000")
    }

    deinit { close() }

    /// Whether the connection is still up as far as libpq knows (a server that went away is
    /// noticed at the next call, which fails; the store then connects again).
    var isOpen: Bool {
        guard let connection else { return false }
        return PQstatus(connection) == CONNECTION_OK
    }

    /// Closes the connection (an open transaction is rolled back by the server).
    func close() {
        if let connection { PQfinish(connection) }
        connection = nil
    }

    /// Runs `sql` (one statement, `$1`… bound to `parameters` as text; nil is NULL) and
    /// returns its rows as text.
    @discardableResult
    func query(_ sql: String, _ parameters: [String?] = [], timeout: Double? = nil)
        throws(PostgresError)
        -> PostgresRows
    {
        let pointer = try open()
        let deadline = Date().addingTimeInterval(timeout ?? self.timeout)
        let sent = withCStrings(parameters) { values in
            PQsendQueryParams(pointer, sql, Int32(clamping: parameters.count), nil, values, nil, nil, 0)
        }
        guard sent == 1 else { throw .statement(Self.message(pointer), sqlState: nil, sql: sql) }
        try flush(until: deadline, sql: sql)
        return try results(until: deadline, sql: sql)
    }

    /// Runs several statements separated by semicolons, without parameters (a migration).
    func execute(_ script: String, timeout: Double? = nil) throws(PostgresError) {
        let pointer = try open()
        let deadline = Date().addingTimeInterval(timeout ?? self.timeout)
        guard PQsendQuery(pointer, script) == 1 else {
            throw .statement(Self.message(pointer), sqlState: nil, sql: script)
        }
        try flush(until: deadline, sql: script)
        _ = try results(until: deadline, sql: script)
    }

    /// For the fault test only (``FaultInjection``'s `commit-reply`): sends `sql`, waits
    /// until the server's reply has arrived (so the statement ran), then puts a socket at
    /// end-of-file in place of the connection's, as a network failure would: libpq reads no
    /// reply, the connection is lost and the error is thrown as a real one would be.
    func sendLosingReply(_ sql: String) throws(PostgresError) {
        let pointer = try open()
        let deadline = Date().addingTimeInterval(timeout)
        guard PQsendQuery(pointer, sql) == 1 else {
            throw .statement(Self.message(pointer), sqlState: nil, sql: sql)
        }
        try flush(until: deadline, sql: sql)
        try wait(forWriting: false, until: deadline, sql: sql)
        var pair: [Int32] = [-1, -1]
        if socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 {
            Glibc.close(pair[1])
            dup2(pair[0], PQsocket(pointer))
            Glibc.close(pair[0])
        }
        _ = try results(until: deadline, sql: sql)
    }

    /// `COPY … FROM STDIN`: `sql` starts the copy, `rows` gives the data in the format `sql`
    /// names (text: lines ending with `\n`, escaped per ``PostgresCopyText``; binary: as
    /// ``PostgresCopyBinary`` writes it, header first and trailer last) a chunk at a time,
    /// nil at the end. Returns the chunks sent.
    @discardableResult
    func copyIn(_ sql: String, timeout: Double? = nil, rows: () -> [UInt8]?) throws(PostgresError)
        -> Int64
    {
        let pointer = try open()
        let deadline = Date().addingTimeInterval(timeout ?? self.timeout)
        guard PQsendQuery(pointer, sql) == 1 else {
            throw .statement(Self.message(pointer), sqlState: nil, sql: sql)
        }
        try flush(until: deadline, sql: sql)
        // The server answers COPY_IN first.
        while true {
            try consume(until: deadline, sql: sql)
            guard let result = PQgetResult(pointer) else {
                throw .statement("the server did not start the COPY", sqlState: nil, sql: sql)
            }
            let status = PQresultStatus(result)
            if status == PGRES_COPY_IN {
                PQclear(result)
                break
            }
            let error = Self.error(result, sql: sql)
            PQclear(result)
            if let error { throw error }
        }
        var copied: Int64 = 0
        while let line = rows() {
            var sent: Int32 = 0
            repeat {
                sent = line.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) {
                        PQputCopyData(pointer, $0.baseAddress, Int32(clamping: $0.count))
                    }
                }
                if sent == -1 { throw .statement(Self.message(pointer), sqlState: nil, sql: sql) }
                if sent == 0 { try wait(forWriting: true, until: deadline, sql: sql) }
            } while sent == 0
            copied += 1
        }
        while PQputCopyEnd(pointer, nil) == 0 { try wait(forWriting: true, until: deadline, sql: sql) }
        try flush(until: deadline, sql: sql)
        _ = try results(until: deadline, sql: sql)
        return copied
    }

    // MARK: - libpq's non-blocking protocol

    private func open() throws(PostgresError) -> OpaquePointer {
        guard let connection, PQstatus(connection) == CONNECTION_OK else {
            throw .connect(location: location, message: "the connection is closed")
        }
        return connection
    }

    /// Sends what libpq buffered.
    private func flush(until deadline: Date, sql: String) throws(PostgresError) {
        let pointer = try open()
        while true {
            let rc = PQflush(pointer)
            if rc == 0 { return }
            if rc < 0 { throw .statement(Self.message(pointer), sqlState: nil, sql: sql) }
            try wait(forWriting: true, until: deadline, sql: sql)
        }
    }

    /// Reads from the server until a whole result is ready.
    private func consume(until deadline: Date, sql: String) throws(PostgresError) {
        let pointer = try open()
        while true {
            guard PQconsumeInput(pointer) == 1 else {
                throw .statement(Self.message(pointer), sqlState: nil, sql: sql)
            }
            if PQisBusy(pointer) == 0 { return }
            try wait(forWriting: false, until: deadline, sql: sql)
        }
    }

    /// Collects the results of the statement(s) sent; the last one's rows are returned,
    /// the first error is thrown (after draining the rest, so the connection stays usable).
    private func results(until deadline: Date, sql: String) throws(PostgresError) -> PostgresRows {
        let pointer = try open()
        var rows = PostgresRows()
        var failure: PostgresError?
        while true {
            try consume(until: deadline, sql: sql)
            guard let result = PQgetResult(pointer) else { break }
            if failure == nil { failure = Self.error(result, sql: sql) }
            if PQresultStatus(result) == PGRES_TUPLES_OK {
                rows = PostgresRows(result)
            } else if PQresultStatus(result) == PGRES_COMMAND_OK {
                rows = PostgresRows()
                rows.affected = PostgresRows.affected(result)
            }
            PQclear(result)
        }
        if let failure { throw failure }
        return rows
    }

    /// Waits in poll(2) until the socket is ready; at the deadline, cancels what runs,
    /// closes the connection and throws `.timeout`.
    private func wait(forWriting: Bool, until deadline: Date, sql: String? = nil) throws(PostgresError) {
        guard let connection else { throw .connect(location: location, message: "the connection is closed") }
        let socket = PQsocket(connection)
        while true {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 {
                close()
                throw .timeout(
                    location: location, seconds: timeout, what: sql.map { "running \($0)" } ?? "waiting")
            }
            var fd = pollfd(fd: socket, events: Int16(forWriting ? POLLOUT : POLLIN), revents: 0)
            let milliseconds = Int32(min(60_000, max(1, (left * 1000).rounded(.up))))
            let ready = poll(&fd, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0 && errno != EINTR {
                throw .connect(location: location, message: "poll: \(String(cString: strerror(errno)))")
            }
        }
    }

    private static func message(_ connection: OpaquePointer) -> String {
        guard let text = PQerrorMessage(connection) else { return "unknown libpq error" }
        return String(cString: text).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The error a result carries, if it is one.
    private static func error(_ result: OpaquePointer, sql: String) -> PostgresError? {
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_COPY_IN, PGRES_COPY_OUT:
            return nil
        default:
            let message = PQresultErrorMessage(result).map { String(cString: $0) } ?? "unknown error"
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            return .statement(
                message.trimmingCharacters(in: .whitespacesAndNewlines), sqlState: state, sql: sql)
        }
    }

    /// Calls `body` with the parameters as C strings (nil stays NULL), valid during the call.
    private func withCStrings<Result>(
        _ values: [String?], _ body: ([UnsafePointer<CChar>?]) -> Result
    ) -> Result {
        let storage: [UnsafeMutablePointer<CChar>?] = values.map { $0.map { strdup($0) } ?? nil }
        defer { for pointer in storage { free(pointer) } }
        return body(storage.map { $0.map { UnsafePointer($0) } })
    }
}

/// The rows of a query, as text (NULL as nil), with the column names and their type OIDs
/// (`PQftype`: what the text means, e.g. 20 = int8, 701 = float8; see `PostgresQueries`).
struct PostgresRows: Sendable, Equatable {
    var columns: [String] = []
    var types: [UInt32] = []
    var rows: [[String?]] = []
    /// The rows an INSERT, UPDATE or DELETE changed (`PQcmdTuples`; 0 for other statements).
    var affected: Int64 = 0

    init() {}

    init(_ result: OpaquePointer) {
        let fieldCount = PQnfields(result)
        columns = (0..<fieldCount).map { String(cString: PQfname(result, $0)) }
        types = (0..<fieldCount).map { UInt32(PQftype(result, $0)) }
        rows = (0..<PQntuples(result)).map { row in
            (0..<fieldCount).map { column in
                PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
            }
        }
        affected = Self.affected(result)
    }

    /// `PQcmdTuples`: the rows a statement changed (or returned), 0 when it does not say.
    static func affected(_ result: OpaquePointer) -> Int64 {
        PQcmdTuples(result).flatMap { Int64(String(cString: $0)) } ?? 0
    }

    /// The first column of the first row.
    var scalar: String? { rows.first?.first ?? nil }
}

/// What PostgreSQL's text may hold: neither NUL nor invalid UTF-8. Bytes of unknown
/// encoding (a bronze line as received, a field of it) are given to the server as they are
/// when they are valid UTF-8 without NUL (the usual case, checked first); otherwise each
/// invalid sequence and each NUL becomes U+FFFD. Both COPY formats write text through it.
enum PostgresTextBytes {
    static func withValid<Result>(
        _ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Result
    ) -> Result {
        var plain = true
        for byte in bytes where byte >= 0x80 || byte == 0 {
            plain = false
            break
        }
        if plain { return body(bytes) }
        var fixed: [UInt8] = []
        fixed.reserveCapacity(bytes.count + 8)
        for byte in String(decoding: bytes, as: UTF8.self).utf8 {
            if byte == 0 {
                fixed.append(contentsOf: [0xEF, 0xBF, 0xBD])
            } else {
                fixed.append(byte)
            }
        }
        return fixed.withUnsafeBytes(body)
    }

    static func withValid<Result>(_ value: String, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        var value = value
        return value.withUTF8 { withValid(UnsafeRawBufferPointer($0), body) }
    }
}

/// The COPY text format's escaping of one field: backslash, tab, newline and carriage
/// return are escaped; NULL is `\N`; the text itself as ``PostgresTextBytes`` makes it.
enum PostgresCopyText {
    static func field(_ value: String?, into line: inout [UInt8]) {
        guard let value else {
            line.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "N")])
            return
        }
        PostgresTextBytes.withValid(value) { escape($0, into: &line) }
    }

    /// Raw bytes of unknown encoding (a bronze line as received) as one field.
    static func raw(_ bytes: UnsafeRawBufferPointer, into line: inout [UInt8]) {
        PostgresTextBytes.withValid(bytes) { escape($0, into: &line) }
    }

    private static func escape(_ bytes: UnsafeRawBufferPointer, into line: inout [UInt8]) {
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\\"): line.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x09: line.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x0A: line.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: line.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            default: line.append(byte)
            }
        }
    }

    /// One line of fields, tab-separated, ending with a newline.
    static func line(_ fields: [String?]) -> [UInt8] {
        var line: [UInt8] = []
        for (index, field) in fields.enumerated() {
            if index > 0 { line.append(0x09) }
            Self.field(field, into: &line)
        }
        line.append(0x0A)
        return line
    }
}

/// The COPY binary format (`COPY … FROM STDIN (FORMAT binary)`): a signature and header,
/// then per row its field count and each field as a 32-bit length (-1: NULL) and its bytes
/// (bigint: 8 bytes big-endian; text: its UTF-8 as ``PostgresTextBytes`` makes it, nothing
/// escaped), then a trailer. The server parses no digits and unescapes nothing.
enum PostgresCopyBinary {
    /// The signature `PGCOPY\n\377\r\n\0`, the flags and the header extension's length.
    static let header: [UInt8] =
        [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0]
    /// The end of the data: a field count of -1.
    static let trailer: [UInt8] = [0xFF, 0xFF]

    static func row(fields: Int16, into out: inout [UInt8]) {
        append(UInt16(bitPattern: fields), into: &out)
    }

    static func null(into out: inout [UInt8]) {
        append(UInt32(bitPattern: -1), into: &out)
    }

    static func int8(_ value: Int64, into out: inout [UInt8]) {
        append(UInt32(8), into: &out)
        append(UInt64(bitPattern: value), into: &out)
    }

    static func int8(_ value: Int64?, into out: inout [UInt8]) {
        guard let value else { return null(into: &out) }
        int8(value, into: &out)
    }

    static func text(_ value: String?, into out: inout [UInt8]) {
        guard let value else { return null(into: &out) }
        PostgresTextBytes.withValid(value) { bytes(of: $0, into: &out) }
    }

    /// Raw bytes of unknown encoding (a bronze line as received) as one text field.
    static func text(raw: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        PostgresTextBytes.withValid(raw) { bytes(of: $0, into: &out) }
    }

    private static func bytes(of value: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        // A field longer than 2 GiB cannot be sent (nor stored: a text value is at most 1 GB);
        // lines are bounded far below that by ingest.max_line_bytes.
        append(UInt32(clamping: value.count), into: &out)
        out.append(contentsOf: value)
    }

    private static func append<Value: FixedWidthInteger>(_ value: Value, into out: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) }
    }
}

/// Errors of the PostgreSQL store, with where and what to do.
enum PostgresError: Error, CustomStringConvertible, Equatable, ExitCoded {
    case connect(location: String, message: String)
    case timeout(location: String, seconds: Double, what: String)
    case statement(String, sqlState: String?, sql: String)

    var description: String {
        switch self {
        case .connect(let location, let message):
            "cannot connect to PostgreSQL at \(location): \(message); check the server, the URI and the credentials (PGPASSWORD or ~/.pgpass)"
        case .timeout(let location, let seconds, let what):
            "PostgreSQL at \(location) did not answer within \(Int(seconds)) s while \(what.prefix(200)); the connection was closed and its transaction rolled back: check the server and the network"
        case .statement(let message, let sqlState, let sql):
            "PostgreSQL refused a statement\(sqlState.map { " (SQLSTATE \($0))" } ?? ""): \(message) — in: \(sql.prefix(200))"
        }
    }

    var exitCode: Int32 { PodpipeExit.databaseError }
}
