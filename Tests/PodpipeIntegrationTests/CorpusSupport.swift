import Foundation
import GRDB
import PodpipeSampleData
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The hostile-input corpus: `Tests/Corpus/manifest.json` lists each case's files and the
/// outcome expected from `podpiped --once`; small text inputs live in `Tests/Corpus/files/`,
/// the rest (binary, huge, odd names, FIFOs, links) are made here at test time.
struct CorpusManifest: Decodable {
    var cases: [CorpusCase]

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Corpus")

    static func load() throws -> CorpusManifest {
        let data = try Data(contentsOf: directory.appendingPathComponent("manifest.json"))
        return try JSONDecoder().decode(CorpusManifest.self, from: data)
    }
}

struct CorpusCase: Decodable, CustomStringConvertible, Sendable {
    struct Input: Decodable, Sendable {
        /// The name in the drop folder (UTF-8), or `nameHex` for names that are not UTF-8.
        var name: String?
        var nameHex: String?
        /// A file of `Tests/Corpus/files/` (default: `name`), or a generator.
        var from: String?
        var gen: String?
        /// Processing order (seconds since the epoch); later entries default to later.
        var mtime: Double?

        enum CodingKeys: String, CodingKey {
            case name
            case nameHex = "name_hex"
            case from, gen, mtime
        }
    }

    struct Expect: Decodable, Sendable {
        /// The ledger name (non-UTF-8 bytes appear as `\xNN`).
        var name: String
        var state: String
        var read: Int64?
        var loaded: Int64?
        var rejected: Int64?
        var duplicate: Int64?
        /// Text the ledger message or first error must contain (the clear reason).
        var reason: String?
        /// Error codes the first rejected row must carry.
        var firstError: String?

        enum CodingKeys: String, CodingKey {
            case name, state, read, loaded, rejected, duplicate, reason
            case firstError = "first_error"
        }
    }

    struct Ignored: Decodable, Sendable {
        var name: String
        var reason: String
    }

    var id: String
    var summary: String
    var files: [Input]
    var expect: [Expect]
    var ignored: [Ignored]?
    var exit: Int32?
    /// Upper bound for `podpiped --once` on this case, in seconds.
    var timeout: Double?

    var description: String { id }
}

/// Makes the inputs git cannot hold (or should not: big, binary).
enum CorpusGenerator {
    static let goodLine = Data(
        #"{"event_type": "play", "user_id": "user_1", "episode_id": "ep_1", "timestamp": "2024-04-21T09:13:28", "duration": 300}"#
            .utf8)
    static let goodLine2 = Data(
        #"{"event_type": "complete", "user_id": "user_1", "episode_id": "ep_1", "timestamp": "2024-04-21T10:00:00", "duration": 1800}"#
            .utf8)
    static let nl = Data([0x0A])

    /// The bytes of a generated input, or nil for inputs that are not regular files.
    static func bytes(_ gen: String) throws -> Data {
        switch gen {
        case "good-events":
            return goodLine + nl + goodLine2 + nl
        case "deeply-nested":
            let depth = 100_000
            var data = Data(repeating: UInt8(ascii: "["), count: depth)
            data.append(Data(repeating: UInt8(ascii: "]"), count: depth))
            data.append(nl)
            data.append(Data(#"{"a":"#.utf8))
            data.append(Data(repeating: UInt8(ascii: "{"), count: 5000))
            data.append(nl)
            data.append(goodLine)
            data.append(nl)
            return data
        case "thousand-keys":
            var text =
                #"{"event_type": "play", "user_id": "user_1", "episode_id": "ep_1", "timestamp": "2024-04-21T09:13:28", "duration": 300"#
            for i in 0..<1000 { text += #", "k\#(i)": \#(i)"# }
            text += "}\n"
            return Data(text.utf8)
        case "invalid-utf8-mid-line":
            var line = Data(#"{"event_type": "play", "user_id": "us"#.utf8)
            line.append(contentsOf: [0xC3, 0x28, 0xFF, 0xFE])
            line.append(
                Data(
                    #"er_9", "episode_id": "ep_1", "timestamp": "2024-04-21T09:13:29", "duration": 300}"#.utf8
                ))
            return goodLine + nl + line + nl + goodLine2 + nl
        case "png":
            var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
            png.append(contentsOf: [
                0, 0, 0, 0x0D, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0,
            ])
            png.append(contentsOf: [0x1F, 0x15, 0xC4, 0x89, 0, 0, 0, 0x0A, 0x49, 0x44, 0x41, 0x54])
            png.append(contentsOf: [0x78, 0x9C, 0x63, 0, 1, 0, 0, 5, 0, 1, 0x0D, 0x0A, 0x2D, 0xB4])
            png.append(contentsOf: [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82])
            return png
        case "binary-garbage":
            var generator = SplitMix64(seed: 42)
            return Data((0..<65_536).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
        case "line-10mb":
            var line = Data(#"{"event_type": "play", "user_id": ""#.utf8)
            line.append(Data(repeating: UInt8(ascii: "u"), count: 10 << 20))
            line.append(
                Data(#"", "episode_id": "ep_1", "timestamp": "2024-04-21T09:13:30", "duration": 300}"#.utf8))
            return goodLine + nl + line + nl + goodLine2 + nl
        case "gzip-good":
            return try gzip(goodLine + nl + goodLine2 + nl)
        case "gzip-concatenated":
            return try gzip(goodLine + nl) + gzip(goodLine2 + nl)
        case "gzip-truncated":
            var lines = Data()
            for i in 0..<2000 {
                lines.append(
                    Data(
                        #"{"event_type": "pause", "user_id": "user_\#(i)", "episode_id": "ep_1", "timestamp": "2024-04-21T09:13:28"}"#
                            .utf8))
                lines.append(nl)
            }
            let full = try gzip(lines)
            return full.prefix(full.count / 2)
        case "gzip-garbage-tail":
            return try gzip(goodLine + nl) + Data("this is not gzip\n".utf8)
        case "not-gzip":
            return goodLine + nl
        case "users-100k":
            return users(100_000)
        case "users-latin1":
            return Data("user_id,signup_date,country\nuser_1,2023-05-01,".utf8) + Data([0x46, 0xE9, 0x0A])
        case "events-latin1":
            return goodLine + nl
                + Data(#"{"event_type": "play", "user_id": "Jos"#.utf8) + Data([0xE9])
                + Data(#"", "episode_id": "ep_1", "timestamp": "2024-04-21T09:13:31", "duration": 300}"#.utf8)
                + nl
        default:
            throw CorpusError.unknownGenerator(gen)
        }
    }

    /// A users CSV of `count` valid, distinct records.
    static func users(_ count: Int) -> Data {
        var text = "user_id,signup_date,country\n"
        text.reserveCapacity(count * 30)
        for i in 0..<count { text += "user_\(i),2023-0\(1 + i % 9)-1\(i % 10),C\(i % 37)\n" }
        return Data(text.utf8)
    }

    static func gzip(_ data: Data) throws -> Data {
        let result = try Binaries.runProgram("/bin/gzip", ["-c", "-n"], stdin: data)
        return result.output
    }
}

enum CorpusError: Error {
    case unknownGenerator(String)
    case badHex(String)
    case posix(String, Int32)
}

/// Raw (byte) paths, for names that are not UTF-8.
enum RawPath {
    static func bytes(hex: String) throws -> [UInt8] {
        var out: [UInt8] = []
        var chars = Array(hex.utf8)[...]
        while chars.count >= 2 {
            guard let byte = UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16) else {
                throw CorpusError.badHex(hex)
            }
            out.append(byte)
            chars = chars.dropFirst(2)
        }
        guard chars.isEmpty else { throw CorpusError.badHex(hex) }
        return out
    }

    static func cString(_ folder: String, _ name: [UInt8]) -> [CChar] {
        (Array(folder.utf8) + [UInt8(ascii: "/")] + name + [0]).map { CChar(bitPattern: $0) }
    }

    static func write(_ data: Data, folder: String, name: [UInt8], mtime: Double) throws {
        let path = cString(folder, name)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CorpusError.posix("open", errno) }
        defer { close(fd) }
        var offset = 0
        try data.withUnsafeBytes { raw in
            while offset < raw.count {
                guard let base = raw.baseAddress else { return }
                let n = Glibc.write(fd, base + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw CorpusError.posix("write", errno)
                }
                offset += n
            }
        }
        try touch(folder: folder, name: name, mtime: mtime)
    }

    static func touch(folder: String, name: [UInt8], mtime: Double) throws {
        let path = cString(folder, name)
        let seconds = Int(mtime)
        var times = [
            timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0),
        ]
        guard utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw CorpusError.posix("utimensat", errno)
        }
    }
}

/// A run of a built executable with a hard time limit (a hang is a failure, not a stuck CI
/// job), its log on stderr.
struct BoundedRun {
    var status: Int32
    var stderr: String
    var timedOut: Bool
    var seconds: Double

    /// Runs the built executable `name`; with `prefix`, runs `prefix + [binary] + args`
    /// (a wrapper such as setpriv).
    static func run(
        _ name: String, _ args: [String], timeout: Double, env: [String: String] = [:], prefix: [String] = []
    ) throws -> BoundedRun {
        let result = try Binaries.run(
            name, args, env: ["PODPIPE_LOG_TARGET": "stderr"].merging(env) { $1 }, timeout: timeout,
            prefix: prefix)
        return BoundedRun(
            status: result.status, stderr: result.stderr, timedOut: result.timedOut,
            seconds: result.seconds)
    }
}

/// Runs `body` with a tmpfs of `size` mounted in the sandbox (a database on a small or
/// read-only filesystem), unmounted afterwards; `body` gets the mount point and a database
/// path on it. Mounting needs root (CAP_SYS_ADMIN): without it the test is skipped with
/// the reason printed, and `body` does not run.
func withTmpfs(
    _ sandbox: Sandbox, size: String, _ body: (_ mountPoint: String, _ database: String) throws -> Void
) throws {
    let mountPoint = sandbox.root.appendingPathComponent("tmpfs").path
    try? FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
    let result = try? Binaries.runTool(
        "/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", mountPoint])
    guard let result, result.status == 0 else {
        print(
            "skipped: cannot mount a tmpfs (needs root / CAP_SYS_ADMIN): \(result?.stderr ?? "mount failed")")
        return
    }
    defer { _ = try? Binaries.runTool("/bin/umount", ["-l", mountPoint]) }
    try body(mountPoint, mountPoint + "/podpipe.sqlite")
}

extension Binaries {
    /// Runs a system tool (mount, umount, setpriv) and waits for it.
    static func runTool(_ path: String, _ args: [String]) throws -> ProcessResult {
        try runProgram(path, args)
    }
}

/// One ledger row as the tests read it.
struct LedgerRow {
    var fileId: Int64
    var name: String
    var state: String
    var read: Int64
    var loaded: Int64
    var rejected: Int64
    var duplicate: Int64
    var message: String
    var firstError: String
    var sha256: String

    static func all(_ database: String) throws -> [LedgerRow] {
        let queue = try DatabaseQueue(path: database)
        return try queue.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT file_id, name, state, rows_read, rows_loaded, rows_rejected, rows_duplicate,
                           COALESCE(message, '') AS message, COALESCE(first_error, '') AS first_error, sha256
                    FROM ingest_file ORDER BY file_id
                    """
            ).map { row in
                LedgerRow(
                    fileId: row["file_id"], name: row["name"], state: row["state"], read: row["rows_read"],
                    loaded: row["rows_loaded"], rejected: row["rows_rejected"],
                    duplicate: row["rows_duplicate"], message: row["message"],
                    firstError: row["first_error"], sha256: row["sha256"])
            }
        }
    }
}

/// The §4.2 invariant, per file and in total: bronze = silver + rejected + duplicates, and
/// the ledger's counts are the bronze rows' outcomes. Returns the violations.
func invariantViolations(_ database: String) throws -> [String] {
    let queue = try DatabaseQueue(path: database)
    return try queue.read { db in
        var problems: [String] = []
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT f.file_id, f.name, f.kind, f.state, f.rows_read, f.rows_loaded, f.rows_rejected,
                       f.rows_duplicate,
                       (SELECT count(*) FROM bronze_event b WHERE b.file_id = f.file_id) +
                       (SELECT count(*) FROM bronze_reference b WHERE b.file_id = f.file_id) AS bronze,
                       (SELECT count(*) FROM bronze_event b WHERE b.file_id = f.file_id AND b.outcome = 'silver') +
                       (SELECT count(*) FROM bronze_reference b WHERE b.file_id = f.file_id AND b.outcome = 'silver')
                           AS b_silver,
                       (SELECT count(*) FROM bronze_event b WHERE b.file_id = f.file_id AND b.outcome = 'rejected') +
                       (SELECT count(*) FROM bronze_reference b WHERE b.file_id = f.file_id AND b.outcome = 'rejected')
                           AS b_rejected,
                       (SELECT count(*) FROM bronze_event b WHERE b.file_id = f.file_id AND b.outcome = 'duplicate')
                           AS b_duplicate,
                       (SELECT count(*) FROM silver_event s WHERE s.file_id = f.file_id) AS s_events
                FROM ingest_file f
                """)
        for row in rows {
            let name: String = row["name"]
            let state: String = row["state"]
            let kind: String = row["kind"]
            let bronze: Int64 = row["bronze"]
            let loaded: Int64 = row["rows_loaded"]
            let rejected: Int64 = row["rows_rejected"]
            let duplicate: Int64 = row["rows_duplicate"]
            if state == "loaded" {
                if bronze != loaded + rejected + duplicate {
                    problems.append("\(name): bronze \(bronze) ≠ \(loaded) + \(rejected) + \(duplicate)")
                }
                let bSilver: Int64 = row["b_silver"]
                let bRejected: Int64 = row["b_rejected"]
                let bDuplicate: Int64 = row["b_duplicate"]
                if (bSilver, bRejected, bDuplicate) != (loaded, rejected, duplicate) {
                    problems.append(
                        "\(name): bronze outcomes \(bSilver)/\(bRejected)/\(bDuplicate) ≠ ledger \(loaded)/\(rejected)/\(duplicate)"
                    )
                }
                let read: Int64 = row["rows_read"]
                if read != bronze { problems.append("\(name): rows_read \(read) ≠ bronze \(bronze)") }
                let sEvents: Int64 = row["s_events"]
                if kind == "events", sEvents != loaded {
                    problems.append("\(name): silver events \(sEvents) ≠ rows_loaded \(loaded)")
                }
            } else if state == "failed" || state == "duplicate" {
                if bronze != 0 { problems.append("\(name): \(state) file has \(bronze) bronze rows") }
                if loaded != 0 { problems.append("\(name): \(state) file has rows_loaded \(loaded)") }
            }
        }
        let silver = try Int64.fetchOne(db, sql: "SELECT count(*) FROM silver_event") ?? -1
        let ledger =
            try Int64.fetchOne(
                db,
                sql:
                    "SELECT COALESCE(sum(rows_loaded), 0) FROM ingest_file WHERE kind = 'events' AND state = 'loaded'"
            )
            ?? -2
        if silver != ledger { problems.append("silver_event \(silver) ≠ ledger rows_loaded total \(ledger)") }
        return problems
    }
}
