import Foundation

@testable import PodpipeCore

#if canImport(Glibc)
    import Glibc
#endif

/// A throwaway PostgreSQL server for one test: a fresh cluster (`initdb`) in a temporary
/// folder, listening only on a Unix socket in that folder, stopped and removed by `stop()`.
/// Run as the `postgres` user when the tests run as root (the server refuses root).
/// `.ci/run` installs Debian's `postgresql`; without it the tests say so and fail.
final class PostgresServer {
    let directory: String
    let port: Int
    private let binaries: String
    private let asUser: [String]
    private var server = Process()
    private var data: String { directory + "/data" }

    /// The libpq URI of the server's `postgres` database.
    var uri: String { "postgresql:///postgres?host=\(directory)&port=\(port)&user=postgres" }

    static func binaryFolder() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted {
            (Int($0) ?? 0) > (Int($1) ?? 0)
        }
        return versions.map { "\(root)/\($0)/bin" }.first {
            FileManager.default.isExecutableFile(atPath: "\($0)/initdb")
        }
    }

    init() throws {
        guard let binaries = Self.binaryFolder() else {
            throw PostgresServerError(
                "no PostgreSQL server binaries under /usr/lib/postgresql: apt-get install postgresql")
        }
        self.binaries = binaries
        directory =
            FileManager.default.temporaryDirectory.appendingPathComponent(
                "podpipe-pg-\(UUID().uuidString.prefix(8))"
            ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        port = 20_000 + Int(getpid() % 20_000)
        if getuid() == 0 {
            asUser = ["/usr/sbin/runuser", "-u", "postgres", "--"]
            _ = try Binaries.runProgram("/bin/chown", ["postgres:postgres", directory])
        } else {
            asUser = []
        }
        let initdb = try run(
            "\(binaries)/initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        guard initdb.status == 0 else { throw PostgresServerError("initdb failed: \(initdb.stderr)") }
        try start()
    }

    /// Starts the server on the cluster (again after ``crash()``) and waits for its socket.
    func start() throws {
        server = Process()
        // The server in the foreground, a child of this process (as DaemonProcess runs
        // podpiped): pg_ctl's daemonised server leaves its launcher unreaped here.
        server.executableURL = URL(fileURLWithPath: asUser.first ?? "\(binaries)/postgres")
        server.arguments =
            Array(asUser.dropFirst()) + (asUser.isEmpty ? [] : ["\(binaries)/postgres"]) + [
                "-D", data, "-k", directory, "-p", "\(port)", "-c", "listen_addresses=", "-c", "fsync=off",
            ]
        let logPath = directory + "/server.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        server.standardOutput = FileHandle(forWritingAtPath: logPath)
        server.standardError = FileHandle(forWritingAtPath: logPath)
        server.standardInput = FileHandle.nullDevice
        try server.run()
        let socket = "\(directory)/.s.PGSQL.\(port)"
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: socket) {
            guard server.isRunning, Date() < deadline else {
                let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                stop()
                throw PostgresServerError("the PostgreSQL server did not start: \(log)")
            }
            usleep(50_000)
        }
        // The socket appears before the server accepts connections ("the database system
        // is starting up"): wait until one succeeds.
        while (try? PostgresConnection(uri: uri, timeout: 5)) == nil {
            guard server.isRunning, Date() < deadline else {
                let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                stop()
                throw PostgresServerError("the PostgreSQL server did not accept connections: \(log)")
            }
            usleep(50_000)
        }
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`: no shutdown checkpoint,
    /// connections cut, the next start recovers from the WAL), keeping its cluster.
    func crash() {
        _ = try? run(
            "\(binaries)/pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"], discardOutput: true)
        server.waitUntilExit()
    }

    func stop() {
        _ = try? run(
            "\(binaries)/pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"], discardOutput: true)
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func run(_ program: String, _ args: [String], discardOutput: Bool = false) throws -> ProcessResult
    {
        try Binaries.runProgram(
            asUser.first ?? program, Array(asUser.dropFirst()) + (asUser.isEmpty ? [] : [program]) + args,
            timeout: discardOutput ? nil : 120, discardOutput: discardOutput)
    }
}

struct PostgresServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
