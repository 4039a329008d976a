import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The metrics textfile (`metrics.textfile`): the Prometheus text the writer puts on disk
/// after each pass, for node_exporter's textfile collector and for cron jobs.
///
/// Written atomically: a temporary file in the same folder (`.NAME.tmp`, which the
/// collector, reading `*.prom`, skips), then rename(2) over the target, so a
/// reader sees the whole previous text or the whole new one. Mode 0644 whatever the umask
/// (the service runs with UMask=0027; node_exporter runs as another user).
enum MetricsTextfile {
    static func write(_ text: String, to path: String) throws(MetricsTextfileError) {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        // One fixed name: only the writer (the holder of the writer lock) writes the
        // textfile, so two never race for it, and a leftover of a writer killed mid-write
        // is replaced by the next one instead of piling up.
        let temporary = (directory.isEmpty ? "." : directory) + "/.\(name).tmp"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw .system(path: path, step: "create \(temporary)", errno: errno) }
        var failure: MetricsTextfileError?
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                failure = .system(path: path, step: "write \(temporary)", errno: errno)
                break
            }
            written += n
        }
        if failure == nil && fchmod(fd, 0o644) != 0 {
            failure = .system(path: path, step: "chmod \(temporary)", errno: errno)
        }
        if close(fd) != 0 && failure == nil {
            failure = .system(path: path, step: "close \(temporary)", errno: errno)
        }
        if failure == nil && rename(temporary, path) != 0 {
            failure = .system(path: path, step: "rename \(temporary) to \(path)", errno: errno)
        }
        if let failure {
            unlink(temporary)
            throw failure
        }
    }
}

/// The metrics textfile could not be written: which step, and the system's reason.
enum MetricsTextfileError: Error, CustomStringConvertible, Equatable {
    case system(path: String, step: String, errno: Int32)

    var description: String {
        switch self {
        case .system(let path, let step, let code):
            "cannot write the metrics textfile \(path) (\(step)): \(String(cString: strerror(code))); check that its folder exists and that podpiped may write there (under systemd: ReadWritePaths=), or change metrics.textfile"
        }
    }
}

extension MetricsTextfileError: ExitCoded {
    /// The path is configuration (`metrics.textfile`). The writer logs this error and goes
    /// on: a pass never fails on its metrics.
    var exitCode: Int32 { PodpipeExit.configuration }
}

/// The writer's export of the metrics textfile: gathers the snapshot, writes the file,
/// and logs a failure once per distinct reason (a folder that is missing stays missing;
/// a log line per pass would drown the journal). Never throws: a pass never fails on its
/// metrics.
final class MetricsExporter {
    private let logger: Logger
    private var lastFailure: String?

    init(logger: Logger) {
        self.logger = logger
    }

    /// Writes the textfile of `config.metricsTextfile` (nothing when it is not set).
    /// Returns whether it was written.
    @discardableResult
    func export(store: Store, config: PodpipeConfig) -> Bool {
        export(config: config) { try MetricsSnapshot.gather(store: store, config: config) }
    }

    /// Writes the textfile of `config.metricsTextfile` with the snapshot `gather` reads
    /// (the store's engine chooses how: ``IngestWriter/exportMetrics(_:config:)``).
    @discardableResult
    func export(config: PodpipeConfig, gather: () throws -> MetricsSnapshot) -> Bool {
        guard let path = config.metricsTextfile else { return false }
        do {
            let text = try gather().text()
            try MetricsTextfile.write(text, to: path)
            if lastFailure != nil {
                logger.notice("metrics textfile written again", metadata: ["path": "\(path)"])
                lastFailure = nil
            }
            return true
        } catch {
            let message = "\(error)"
            if message != lastFailure {
                logger.error(
                    "metrics textfile not written: \(message)",
                    metadata: LogEventKind.metricsFailed.metadata(["path": "\(path)"]))
                lastFailure = message
            }
            return false
        }
    }
}
