import Foundation
import GRDB
import PodpipeRules

#if canImport(Glibc)
    import Glibc
#endif

/// Whether the daemon runs (`daemon_state.state`, and `status --json`'s `daemon.state`).
enum DaemonRunState: String, Codable, Sendable, Equatable, DatabaseValueConvertible {
    case running
    case stopped
}

/// The daemon's row in `daemon_state` (migration 0003): who runs, since when, its last
/// heartbeat, what it watches, what it last did. Written by the daemon only.
struct DaemonStateRecord: Codable, FetchableRecord, PersistableRecord, Sendable, Equatable {
    static let databaseTableName = "daemon_state"
    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    var id: Int64 = 1
    var state: DaemonRunState
    var pid: Int64
    var host: String
    var startedAt: String
    var heartbeatAt: String
    var heartbeatIntervalS: Int64
    var staleAfterS: Int64
    var watchMode: String
    var dataLoad: String
    var configFile: String?
    var activity: String?
    var lastScanAt: String?
    var lastRefreshAt: String?
    var lastReloadAt: String?
    var filesLoaded: Int64 = 0
    var filesRejected: Int64 = 0
    var filesDuplicate: Int64 = 0
    var filesFailed: Int64 = 0
    var stoppedAt: String?
    var stopReason: String?
    var cleanStop: Bool = false

    /// Reads the row; nil when the daemon never ran here or the database predates 0003.
    static func read(_ db: Database) throws -> DaemonStateRecord? {
        guard try db.tableExists(databaseTableName) else { return nil }
        return try DaemonStateRecord.fetchOne(db, key: 1)
    }
}

/// Whether the daemon recorded in `daemon_state` is running, and whether one is expected.
struct DaemonLiveness: Sendable, Equatable {
    var running: Bool
    /// A daemon ran here and did not stop cleanly (killed, crashed, hung, the host went
    /// down): `podpipectl status` exits 2 when it is expected but not running.
    var expected: Bool
    var reason: String

    /// Judges a record. `isAlive` answers for a pid on this host (tests inject it).
    static func judge(
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
    static func processExists(_ pid: Int64) -> Bool {
        guard pid > 0, pid <= Int64(Int32.max) else { return false }
        if kill(pid_t(pid), 0) == 0 { return true }
        return errno == EPERM
    }

    /// The environment variable that names this host instead of gethostname(2), for
    /// containers (whose host name changes at every start, while a host's ledger names on a
    /// PostgreSQL warehouse are kept per host and folder) and for tests that run several
    /// hosts on one machine (doc/operations.md).
    static let hostNameVariable = "PODPIPE_HOST_NAME"

    /// This host's name, as recorded in the row: ``hostNameVariable`` when it is set to a
    /// valid name (``validHostName(_:)``), else gethostname(2). Read once per process.
    static func hostName() -> String { cachedHostName }

    private static let cachedHostName: String = {
        if let named = ProcessInfo.processInfo.environment[hostNameVariable], validHostName(named) {
            return named
        }
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// A host name as ``hostNameVariable`` may give it: 1–255 bytes of printable ASCII
    /// without spaces (it is shown in `status` and logs). Anything else is not used.
    static func validHostName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return !bytes.isEmpty && bytes.count <= 255 && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}

extension ISOTime {
    /// Parses the `YYYY-MM-DDTHH:MM:SSZ` text this module writes.
    static func parse(_ text: String) -> Date? {
        guard let seconds = Timestamps.parse(text) else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }
}

/// `daemon_state` on PostgreSQL: one row per (host, drop folder) (PostgreSQL's migration
/// 0004; the writer's lock and the ledger's names are per (host, folder) too), written by
/// the daemon of that folder on that host.
enum PostgresDaemonState {
    static let columns = [
        "host", "state", "pid", "started_at", "heartbeat_at", "heartbeat_interval_s", "stale_after_s",
        "watch_mode", "data_load", "config_file", "activity", "last_scan_at", "last_refresh_at",
        "last_reload_at", "files_loaded", "files_rejected", "files_duplicate", "files_failed",
        "stopped_at", "stop_reason", "clean_stop",
    ]

    static func save(_ record: DaemonStateRecord, _ connection: PostgresConnection) throws {
        let values: [String?] = [
            record.host, record.state.rawValue, String(record.pid), record.startedAt, record.heartbeatAt,
            String(record.heartbeatIntervalS), String(record.staleAfterS), record.watchMode, record.dataLoad,
            record.configFile, record.activity, record.lastScanAt, record.lastRefreshAt, record.lastReloadAt,
            String(record.filesLoaded), String(record.filesRejected), String(record.filesDuplicate),
            String(record.filesFailed), record.stoppedAt, record.stopReason, record.cleanStop ? "1" : "0",
        ]
        let placeholders = (1...columns.count).map { "$\($0)" }.joined(separator: ", ")
        let key: Set<String> = ["host", "data_load"]
        let updates = columns.filter { !key.contains($0) }.map { "\($0) = excluded.\($0)" }
            .joined(separator: ", ")
        try connection.query(
            """
            INSERT INTO daemon_state (\(columns.joined(separator: ", "))) VALUES (\(placeholders))
            ON CONFLICT (host, data_load) DO UPDATE SET \(updates)
            """, values)
    }
}
