import Foundation

/// What other processes (podpipectl) may ask of a running daemon.
public enum DaemonControl {
    /// The pid of the daemon running on this host for `database`, or nil when none runs
    /// (judged from `daemon_state` as `podpipectl status` does). Only such a pid may be
    /// sent SIGUSR1: a `podpiped --once` pass has no handler for it.
    public static func runningDaemonPID(database: String, now: Date = Date()) throws -> Int64? {
        let store = try Store.openForReading(path: database)
        let record = try store.pool.read { db in try DaemonStateRecord.read(db) }
        guard let record, record.host == DaemonLiveness.hostName() else { return nil }
        let liveness = DaemonLiveness.judge(record, now: now, host: DaemonLiveness.hostName())
        return liveness.running ? record.pid : nil
    }
}
