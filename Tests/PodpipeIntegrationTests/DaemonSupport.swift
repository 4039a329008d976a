import Foundation
import GRDB
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Polls `condition` every 50 ms until it holds or `timeout` seconds pass (errors count as
/// "not yet": the database may be mid-checkpoint). Returns whether it held.
@discardableResult
func eventually(timeout: Double = 30, _ condition: () throws -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    repeat {
        if (try? condition()) == true { return true }
        usleep(50_000)
    } while Date() < deadline
    return (try? condition()) == true
}

/// A unix datagram socket standing in for systemd's `NOTIFY_SOCKET`: collects every
/// sd_notify message the daemon sends.
final class NotifySocket: Sendable {
    let path: String
    private let fd: Int32
    private let received = Mutex<[String]>([])
    private let closed = Atomic<Bool>(false)

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw POSIXError(.ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [self] in self.receiveLoop() }
        thread.start()
    }

    private func receiveLoop() {
        var buffer = [UInt8](repeating: 0, count: 8192)
        while !closed.load(ordering: .relaxed) {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 {
                let text = String(decoding: buffer[0..<n], as: UTF8.self)
                received.withLock { $0.append(text) }
            }
        }
        Glibc.close(fd)
    }

    func close() { closed.store(true, ordering: .relaxed) }

    var messages: [String] { received.withLock { $0 } }

    /// Waits for a datagram with a line satisfying `predicate` (after `from` messages).
    @discardableResult
    func waitFor(_ predicate: (String) -> Bool, after from: Int = 0, timeout: Double = 30) -> String? {
        var found: String?
        eventually(timeout: timeout) {
            let all = messages
            found = all.dropFirst(from).first { message in
                message.split(separator: "\n").contains { predicate(String($0)) }
            }
            return found != nil
        }
        return found
    }

    func waitForLine(_ line: String, after from: Int = 0, timeout: Double = 30) -> Bool {
        waitFor({ $0 == line }, after: from, timeout: timeout) != nil
    }
}

/// A running `podpiped` (long-running mode) with its own notify socket and stderr file.
final class DaemonProcess {
    let process = Process()
    let notify: NotifySocket
    let stderrPath: String

    init(box: Sandbox, arguments: [String]? = nil, env: [String: String] = [:], name: String = "daemon")
        throws
    {
        notify = try NotifySocket(path: box.root.appendingPathComponent("\(name).notify").path)
        stderrPath = box.root.appendingPathComponent("\(name).stderr").path
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = Binaries.directory.appendingPathComponent("podpiped")
        process.arguments = arguments ?? ["--data-load", box.dataLoad, "--database", box.database]
        var environment = Binaries.environment([:])
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            environment.removeValue(forKey: key)
        }
        environment["NOTIFY_SOCKET"] = notify.path
        environment["PODPIPE_LOG_TARGET"] = "stderr"
        for (key, value) in env { environment[key] = value }
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        notify.close()
    }

    var pid: Int32 { process.processIdentifier }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func waitReady(timeout: Double = 30) -> Bool { notify.waitForLine("READY=1", timeout: timeout) }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Sends `number` (SIGTERM by default) and waits for the exit; returns the exit status
    /// and the seconds it took, or nil if it did not exit within `timeout`.
    func stop(_ number: Int32 = SIGTERM, timeout: Double = 30) -> (status: Int32, seconds: Double)? {
        let started = Date()
        signal(number)
        guard eventually(timeout: timeout, { !process.isRunning }) else { return nil }
        process.waitUntilExit()
        return (process.terminationStatus, Date().timeIntervalSince(started))
    }
}

/// NDJSON lines for tests: `count` valid, distinct play events (distinct by `seed`).
func eventLines(_ count: Int, seed: Int, user: String = "u") -> String {
    func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
    var text = ""
    text.reserveCapacity(count * 120)
    for i in 0..<count {
        let second = (seed * 100_003 + i) % 86_400
        let day = 1 + (seed * 7 + i / 86_400) % 28
        let time = "\(two(second / 3600)):\(two(second / 60 % 60)):\(two(second % 60))"
        text += #"{"event_type": "play", "user_id": "\#(user)\#(seed)", "episode_id": "ep_\#(i % 50)", "#
        text += #""timestamp": "2024-03-\#(two(day))T\#(time)", "duration": \#(i % 900 + 1)}"#
        text += "\n"
    }
    return text
}

extension Sandbox {
    /// The ledger rows for a name.
    func ledger(_ name: String) throws -> [Row] {
        try rows("SELECT * FROM ingest_file WHERE name = '\(name)' ORDER BY file_id")
    }

    /// True once `name` has exactly one ledger row, in state `state`.
    func isRecorded(_ name: String, as state: String = "loaded") -> Bool {
        guard let rows = try? ledger(name), rows.count == 1 else { return false }
        return rows[0]["state"] == state
    }
}
