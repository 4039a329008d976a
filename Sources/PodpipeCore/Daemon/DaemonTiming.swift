import Foundation

/// Small pure pieces of the daemon's timing, kept apart so that they can be tested alone.
enum DaemonTiming {
    /// Seconds between two heartbeat writes of `daemon_state`.
    static let heartbeatInterval: Double = 10
    /// Seconds a handed-over command that runs in batches (a prune) works per turn, between
    /// two files or when idle, before the daemon looks at the folder again.
    static let maintenanceTurn: Double = 1

    /// A heartbeat older than this means the daemon is hung or gone. Generous: the heartbeat
    /// cannot be written while the single writer is inside one file's transaction or one
    /// gold refresh, which may take a minute on a very large file or backlog.
    static let staleAfter: Double = 180

    /// The metrics textfile: written at most every `metricsMinInterval` seconds after a
    /// pass or a gold refresh changed something (poll mode passes every second), and at
    /// least every `metricsInterval` seconds so that its ages stay current for a scrape
    /// (node_exporter reads the file at each scrape, 15 s to 1 min).
    static let metricsMinInterval: Double = 15
    static let metricsInterval: Double = 60

    /// Seconds from one textfile write to the next. A collection reads the ledger, counts
    /// the gold tables and reads the rejected rows' codes (0.5 s on 1M events with 22k
    /// rejected rows, doc/performance.md): the wait is at least 20 times the last
    /// collection's time, so that the writer never spends more than 5% of its time on it.
    static func metricsDelay(dirty: Bool, lastCost: Double) -> Double {
        let cost = lastCost.isFinite ? max(0, lastCost) : 0
        return max(dirty ? metricsMinInterval : metricsInterval, 20 * cost)
    }

    /// How often poll mode lists the folder: the rescan interval, but at least once per
    /// settle period (a new file is then read about one settle time after it stops
    /// changing), and never more than once a second.
    static func pollInterval(rescan: Double, settle: Double) -> Double {
        max(1, min(rescan, max(settle, 1)))
    }

    /// Delay before the next pass after `failures` consecutive failed passes (a database
    /// that cannot be written, a folder that cannot be listed): 1 s, 2 s, 4 s … 60 s.
    static func passRetryDelay(failures: Int) -> Double {
        guard failures > 0 else { return 0 }
        return min(60, pow(2, Double(min(failures - 1, 10))))
    }

    /// Delay before the next gold refresh attempt after one failed: the refresh interval,
    /// but at most a minute.
    static func goldRetryDelay(interval: Double) -> Double { min(interval, 60) }
}
