import Foundation
import GRDB
import Testing

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
        let db = try DatabaseQueue(path: database)
        return try db.read { try T.fetchOne($0, sql: sql) }
    }

    func rows(_ sql: String) throws -> [Row] {
        let db = try DatabaseQueue(path: database)
        return try db.read { try Row.fetchAll($0, sql: sql) }
    }
}

struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
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

    static func run(_ name: String, _ args: [String], env: [String: String] = [:], stdin: Data? = nil)
        throws -> ProcessResult
    {
        let process = Process()
        process.executableURL = directory.appendingPathComponent(name)
        process.arguments = args
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("PODPIPE_") && key != "PODPIPE_BIN_DIR" {
            environment.removeValue(forKey: key)
        }
        environment.removeValue(forKey: "JOURNAL_STREAM")
        for (key, value) in env { environment[key] = value }
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read both pipes concurrently so a large output never blocks the child.
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return ProcessResult(
            status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
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
