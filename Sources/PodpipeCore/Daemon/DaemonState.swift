import Foundation
import GRDB
import PodpipeRules

#if canImport(Glibc)
    import Glibc
#endif

/// Whether the daemon runs (`daemon_state.state`, and `status --json`'s `daemon.state`).
public enum DaemonRunState: String, Codable, Sendable, Equatable, DatabaseValueConvertible {
    case running
    case stopped
}

/// The daemon's row in `daemon_state` (migration 0003): who runs, since when, its last
/// heartbeat, what it watches, what it last did. Written by the daemon only.
public struct DaemonStateRecord: Codable, FetchableRecord, PersistableRecord, Sendable, Equatable {
    public static let databaseTableName = "daemon_state"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64 = 1
    public var state: DaemonRunState
    public var pid: Int64
    public var host: String
    public var startedAt: String
    public var heartbeatAt: String
    public var heartbeatIntervalS: Int64
    public var staleAfterS: Int64
    public var watchMode: String
    public var dataLoad: String
    public var configFile: String?
    public var activity: String?
    public var lastScanAt: String?
    public var lastRefreshAt: String?
    public var lastReloadAt: String?
    public var filesLoaded: Int64 = 0
    public var filesRejected: Int64 = 0
    public var filesDuplicate: Int64 = 0
    public var filesFailed: Int64 = 0
    public var stoppedAt: String?
    public var stopReason: String?
    public var cleanStop: Bool = false

    /// Reads the row; nil when the daemon never ran here or the database predates 0003.
    public static func read(_ db: Database) throws -> DaemonStateRecord? {
        guard try db.tableExists(databaseTableName) else { return nil }
        return try DaemonStateRecord.fetchOne(db, key: 1)
    }
}

/// Whether the daemon recorded in `daemon_state` is running, and whether one is expected.
public struct DaemonLiveness: Sendable, Equatable {
    public var running: Bool
    /// A daemon ran here and did not stop cleanly (killed, crashed, hung, the host went
    /// down): `podpipectl status` exits 2 when it is expected but not running.
    public var expected: Bool
    public var reason: String

    /// Judges a record. `isAlive` answers for a pid on this host (tests inject it).
    public static func judge(
        _ record: DaemonStateRecord?, now: Date, host: String,
        isAlive: (Int64) -> Bool = DaemonLiveness.processExists
    ) -> DaemonLiveness {
        guard let record else {
            return DaemonLiveness(
                running: false, expected: false, reason: "the daemon never ran on this database")
        }
        if record.state != .running {
            if record.cleanStop {
                return DaemonLiveness(
                    running: false, expected: false,
                    reason: "stopped at \(record.stoppedAt ?? "?") (\(record.stopReason ?? "stopped"))")
            }
            return DaemonLiveness(
                running: false, expected: true,
                reason: "stopped at \(record.stoppedAt ?? "?") on an error: \(record.stopReason ?? "unknown")"
            )
        }
        if record.host == host && !isAlive(record.pid) {
            return DaemonLiveness(
                running: false, expected: true,
                reason:
                    "pid \(record.pid) is gone without stopping cleanly (last heartbeat \(record.heartbeatAt))"
            )
        }
        if let beat = ISOTime.parse(record.heartbeatAt) {
            let age = now.timeIntervalSince(beat)
            if age > Double(record.staleAfterS) {
                return DaemonLiveness(
                    running: false, expected: true,
                    reason:
                        "heartbeat is \(Int(age)) s old (stale after \(record.staleAfterS) s): hung or gone")
            }
        }
        return DaemonLiveness(running: true, expected: true, reason: "running (pid \(record.pid))")
    }

    /// kill(pid, 0): the process exists (EPERM: it exists but belongs to another user).
    public static func processExists(_ pid: Int64) -> Bool {
        guard pid > 0, pid <= Int64(Int32.max) else { return false }
        if kill(pid_t(pid), 0) == 0 { return true }
        return errno == EPERM
    }

    /// This host's name, as recorded in the row.
    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension ISOTime {
    /// Parses the `YYYY-MM-DDTHH:MM:SSZ` text this module writes.
    static func parse(_ text: String) -> Date? {
        guard let seconds = Timestamps.parse(text) else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }
}
