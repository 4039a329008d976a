import Foundation
import GRDB
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A temporary folder with a drop folder and a database path, removed afterwards.
final class Sandbox {
    let root: URL
    var dataLoad: String { root.appendingPathComponent("data_load").path }
    var database: String { root.appendingPathComponent("db/podpipe.sqlite").path }

    init() throws {
        root = FileManager.default.temporaryDirectory
            .appendingPathComponent("podpipe-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            atPath: root.appendingPathComponent("data_load").path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    /// Writes a file into the drop folder with a given modification time (seconds).
    @discardableResult
    func drop(_ name: String, _ content: String, mtime: TimeInterval? = nil) throws -> String {
        try drop(name, Data(content.utf8), mtime: mtime)
    }

    @discardableResult
    func drop(_ name: String, _ data: Data, mtime: TimeInterval? = nil) throws -> String {
        let path = dataLoad + "/" + name
        try data.write(to: URL(fileURLWithPath: path))
        if let mtime { try setMtime(path, mtime) }
        return path
    }

    func setMtime(_ path: String, _ mtime: TimeInterval) throws {
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSince1970: mtime)], ofItemAtPath: path)
    }

    /// Runs `podpiped` with this sandbox's folder and database.
    func podpiped(_ extra: [String] = ["--once"], env: [String: String] = [:]) throws -> ProcessResult {
        try Binaries.run(
            "podpiped", ["--data-load", dataLoad, "--database", database] + extra, env: env)
    }

    /// Runs `podpipectl … SUBCOMMAND ARGS` against this sandbox.
    func ctl(_ args: [String], env: [String: String] = [:]) throws -> ProcessResult {
        guard let sub = args.first else { return try Binaries.run("podpipectl", [], env: env) }
        return try Binaries.run(
            "podpipectl",
            [sub] + ["--database", database, "--data-load", dataLoad] + args.dropFirst(), env: env)
    }

    func query<T: DatabaseValueConvertible>(_ sql: String, as: T.Type = Int.self) throws -> T? {
        // A daemon may hold the database's locks for a moment (its start-up, a checkpoint):
        // wait as podpipectl's readers do instead of failing on SQLITE_BUSY.
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let db = try DatabaseQueue(path: database, configuration: configuration)
        return try db.read { try T.fetchOne($0, sql: sql) }
    }

    func rows(_ sql: String) throws -> [Row] {
        let db = try DatabaseQueue(path: database)
        return try db.read { try Row.fetchAll($0, sql: sql) }
    }
}

struct ProcessResult {
    var status: Int32
    /// Standard output as bytes (a program may write binary, as gzip does).
    var output = Data()
    var stdout: String
    var stderr: String
    /// Killed after the time limit given to ``Binaries/run(_:_:env:stdin:timeout:prefix:)``.
    var timedOut = false
    var seconds: Double = 0
}

/// Finds and runs the built executables (`swift build` puts them beside the test bundle).
enum Binaries {
    static let directory: URL = {
        if let dir = ProcessInfo.processInfo.environment["PODPIPE_BIN_DIR"] {
            return URL(fileURLWithPath: dir)
        }
        var candidates: [URL] = []
        if let exe = Bundle.main.executableURL {
            candidates.append(exe.deletingLastPathComponent())
        }
        let arg0 = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        candidates.append(arg0)
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(repo.appendingPathComponent(".build/debug"))
        for dir in candidates
        where FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("podpiped").path) {
            return dir
        }
        return repo.appendingPathComponent(".build/debug")
    }()

    /// This process's environment without `PODPIPE_…` variables (but `PODPIPE_BIN_DIR`) and
    /// without `JOURNAL_STREAM`, plus `env`: what a spawned podpiped/podpipectl gets.
    static func environment(_ env: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("PODPIPE_") && key != "PODPIPE_BIN_DIR" {
            environment.removeValue(forKey: key)
        }
        environment.removeValue(forKey: "JOURNAL_STREAM")
        for (key, value) in env { environment[key] = value }
        return environment
    }

    /// Runs the built executable `name` with the environment cleared of `PODPIPE_…`
    /// variables (but `env`), and returns its exit status and output. With `prefix`, runs
    /// `prefix + [binary] + args` (a wrapper such as setpriv). With `timeout`, a process still
    /// running after that many seconds is killed (`timedOut`): a hang fails the test
    /// instead of blocking CI.
    static func run(
        _ name: String, _ args: [String], env: [String: String] = [:], stdin: Data? = nil,
        timeout: Double? = nil, prefix: [String] = []
    ) throws -> ProcessResult {
        let binary = directory.appendingPathComponent(name)
        if let wrapper = prefix.first {
            return try runProgram(
                wrapper, Array(prefix.dropFirst()) + [binary.path] + args,
                environment: Binaries.environment(env), stdin: stdin, timeout: timeout)
        }
        return try runProgram(
            binary.path, args, environment: Binaries.environment(env), stdin: stdin, timeout: timeout)
    }

    /// Runs the program at `path` (the one runner of the integration tests: the built
    /// binaries, and system tools with `environment` nil, inheriting the test's) and returns
    /// its exit status and output; with `timeout`, kills it after that many seconds.
    ///
    /// With `discardOutput`, its output goes to /dev/null and is not read: for a program
    /// that leaves a server running, which would hold the output pipes open for its life.
    static func runProgram(
        _ path: String, _ args: [String], environment: [String: String]? = nil, stdin: Data? = nil,
        timeout: Double? = nil, discardOutput: Bool = false
    ) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = args
        if let environment { process.environment = environment }
        if discardOutput {
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            process.standardInput = FileHandle.nullDevice
            let started = Date()
            try process.run()
            process.waitUntilExit()
            return ProcessResult(
                status: process.terminationStatus, stdout: "", stderr: "",
                seconds: Date().timeIntervalSince(started))
        }
        let out = Pipe()
        let err = Pipe()
        let input = stdin.map { _ in Pipe() }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input ?? FileHandle.nullDevice
        let started = Date()
        try process.run()
        // Read both pipes concurrently so a large output never blocks the child.
        nonisolated(unsafe) var outData = Data()
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        for (pipe, isOut) in [(out, true), (err, false)] {
            group.enter()
            DispatchQueue.global().async {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                if isOut { outData = data } else { errData = data }
                group.leave()
            }
        }
        if let input, let stdin {
            input.fileHandleForWriting.write(stdin)
            try? input.fileHandleForWriting.close()
        }
        var timedOut = false
        if let timeout {
            let deadline = started.addingTimeInterval(timeout)
            while process.isRunning {
                if Date() > deadline {
                    timedOut = true
                    kill(process.processIdentifier, SIGKILL)
                    break
                }
                usleep(20_000)
            }
        }
        process.waitUntilExit()
        group.wait()
        return ProcessResult(
            status: process.terminationStatus, output: outData,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self), timedOut: timedOut,
            seconds: Date().timeIntervalSince(started))
    }
}

/// Parses CSV output of `podpipectl report … --format csv` (simple: no quoted newlines).
func csvRows(_ text: String) -> [[String]] {
    text.split(separator: "\n", omittingEmptySubsequences: true).map { line in
        var fields: [String] = []
        var current = ""
        var quoted = false
        var iterator = Array(line).makeIterator()
        var pending: Character? = nil
        while let c = pending ?? iterator.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" { current.append("\"") } else { quoted = false; pending = next }
                    } else {
                        quoted = false
                    }
                } else {
                    current.append(c)
                }
            } else if c == "," {
                fields.append(current)
                current = ""
            } else if c == "\"" {
                quoted = true
            } else {
                current.append(c)
            }
        }
        fields.append(current)
        return fields
    }
}
