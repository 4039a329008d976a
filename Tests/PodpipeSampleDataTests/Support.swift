import Foundation
import PodpipeSampleData

/// A fresh temporary directory, removed by `cleanUp()`.
struct TemporaryDirectory {
    let path: String

    init(_ label: String = "podpipe-sample") throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    /// A directory with a fixed name, emptied first (for data shared by several tests and
    /// left for inspection; the next run replaces it).
    init(fixed name: String) throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent(name, isDirectory: true)
        try? FileManager.default.removeItem(at: url)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    func file(_ name: String) -> String { path + "/" + name }

    func cleanUp() { try? FileManager.default.removeItem(atPath: path) }
}

enum TestFiles {
    static func bytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Runs `gzip` with `arguments`; returns stdout and the exit status.
    static func gzip(_ arguments: [String]) throws -> (Data, Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gzip"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (data, process.terminationStatus)
    }

    /// The decompressed text of an event file as bytes.
    static func text(_ path: String) throws -> [UInt8] {
        if path.hasSuffix(".gz") {
            let (data, status) = try gzip(["-dc", path])
            guard status == 0 else { throw TestFailure("gzip -dc failed for \(path)") }
            return [UInt8](data)
        }
        return try bytes(path)
    }

    /// Physical lines as the spec reads them: BOM dropped, CR before LF dropped, the empty
    /// piece after a final LF is not a line. Numbered from 1.
    static func lines(_ text: [UInt8]) -> [(number: Int, bytes: [UInt8])] {
        var body = text[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        var result: [(Int, [UInt8])] = []
        var current: [UInt8] = []
        var number = 0
        for byte in body {
            if byte == 10 {
                if current.last == 13 { current.removeLast() }
                number += 1
                result.append((number, current))
                current = []
            } else {
                current.append(byte)
            }
        }
        if !current.isEmpty {
            if current.last == 13 { current.removeLast() }
            number += 1
            result.append((number, current))
        }
        return result
    }

    static func isBlank(_ line: [UInt8]) -> Bool {
        line.allSatisfy { $0 == 32 || $0 == 9 || $0 == 13 }
    }

    static func modificationTime(_ path: String) throws -> Int64 {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        guard let date = attributes[.modificationDate] as? Date else {
            throw TestFailure("no mtime for \(path)")
        }
        return Int64(date.timeIntervalSince1970.rounded())
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Memoised generations shared by tests (each spec is generated once per process).
actor Generated {
    static let shared = Generated()
    private var cache: [String: (TemporaryDirectory, SampleDataManifest)] = [:]

    func get(_ spec: SampleDataSpec, label: String) throws -> (
        directory: TemporaryDirectory, manifest: SampleDataManifest
    ) {
        if let hit = cache[label] { return hit }
        let directory = try TemporaryDirectory(fixed: "podpipe-sample-tests-\(label)")
        let manifest = try SampleDataGenerator.write(spec, to: directory.path)
        cache[label] = (directory, manifest)
        return (directory, manifest)
    }
}

extension SampleDataSpec {
    /// The default spec with the oracle recorded and ledger edge cases.
    static var recordedDefault: SampleDataSpec {
        var spec = SampleDataSpec()
        spec.recordEvents = true
        spec.ledgerEdgeCases = true
        return spec
    }
}
