import Logging

/// Every kind of event podpipe logs: the `event` metadata value of its log records and,
/// for the kinds operators search for, the journal's fixed `MESSAGE_ID` (`journalctl
/// MESSAGE_ID=…` finds every record of a kind across versions; an id never changes once
/// shipped).
enum LogEventKind: String, Sendable, CaseIterable {
    case daemonStarted = "daemon_started"
    case daemonStopping = "daemon_stopping"
    case daemonStopped = "daemon_stopped"
    case daemonReloaded = "daemon_reloaded"
    case reloadFailed = "reload_failed"
    case configWarning = "config_warning"
    case writerRefused = "writer_refused"
    case fileLoaded = "file_loaded"
    case fileRejected = "file_rejected"
    case fileDuplicate = "file_duplicate"
    case fileFailed = "file_failed"
    case fileNewVersion = "file_new_version"
    case fileIgnored = "file_ignored"
    case fileInterrupted = "file_interrupted"
    case goldRefreshed = "gold_refreshed"
    case goldRefreshFailed = "gold_refresh_failed"
    case goldRefreshRequested = "gold_refresh_requested"
    case passFailed = "pass_failed"
    case passFinished = "pass_finished"
    case watchDegraded = "watch_degraded"
    case watchOverflow = "watch_overflow"
    case folderMissing = "folder_missing"
    case folderListed = "folder_listed"
    case heartbeatFailed = "heartbeat_failed"
    case databaseLost = "database_lost"
    /// After commit (`ingest.after`): a settled file moved or deleted, or that could not be.
    case fileMoved = "file_moved"
    case fileDeleted = "file_deleted"
    case fileMoveFailed = "file_move_failed"
    case maintenanceRun = "maintenance_run"
    case maintenanceFailed = "maintenance_failed"
    case metricsFailed = "metrics_failed"

    /// The journal's `MESSAGE_ID` (32 lower-case hex digits), for the kinds that have one.
    var messageID: String? {
        switch self {
        case .daemonStarted: "d4698c1b35854f0d83eb2fc333dbd54d"
        case .daemonStopping: "97281d473c0740209c5fce1dba921f1c"
        case .daemonStopped: "87d9e10311c942eaad3e048d6bb5ec56"
        case .daemonReloaded: "0681bb1840e9444bb88899e558ed2239"
        case .reloadFailed: "7f71e758290c461898e7d1016a7be260"
        case .configWarning: "b927c7038ac2407bb31d118d1d7f09c0"
        case .writerRefused: "985709f9b1ac4b33825f490144a19cca"
        case .fileLoaded: "390321c69b4e4939844bad30e75562d3"
        case .fileRejected: "b67f41d1925844e9910eaab8cf125958"
        case .fileDuplicate: "8525d64c726c4879aa5eccca6d182ee0"
        case .fileFailed: "771fbfb7d68b4f99ac0a52513357c4c1"
        case .fileNewVersion: "f44da501ddf744c2a651b9670cca08ce"
        case .fileIgnored: "e420ecf69cc745e4b5bde31d2f5f5eee"
        case .goldRefreshed: "d5dfbd7c07b3490aa56afad39a674813"
        case .goldRefreshFailed: "bf2b63385b064e9b8c5f8d9ed277951c"
        case .passFailed: "8c03536b90fd41e6a06e1e42a5c8eea9"
        case .passFinished: "90835cbcb4e04ebf817673bfba6ae846"
        case .watchDegraded: "7333bff6b58c4d93987b3773d7c4abb8"
        case .watchOverflow: "bb737d3621b242f9baf8748d26b90436"
        case .folderMissing: "bf336a37f4594997bbd160c3da74b959"
        case .databaseLost: "3c8e2f4a9d1b4e6f8a7c5b2d0e9f1a63"
        case .fileMoveFailed: "0057bcc5a9d54685b41d34950a958fa2"
        case .maintenanceRun: "5b0e3c9a7d2f4e1b8c6a9f0d3e2b7c14"
        case .maintenanceFailed: "e7a14c2d9b3f4a5e8d1c6b0f2a9e3d57"
        case .fileInterrupted, .goldRefreshRequested, .folderListed, .heartbeatFailed, .fileMoved,
            .fileDeleted, .metricsFailed:
            nil
        }
    }

    /// The event of a file's ledger outcome.
    static func file(_ state: LedgerState) -> LogEventKind {
        switch state {
        case .loaded: .fileLoaded
        case .rejected: .fileRejected
        case .duplicate: .fileDuplicate
        case .failed: .fileFailed
        }
    }

    /// Log metadata naming this event, with `extra`.
    func metadata(_ extra: Logger.Metadata = [:]) -> Logger.Metadata {
        var metadata = extra
        metadata["event"] = .string(rawValue)
        return metadata
    }
}
