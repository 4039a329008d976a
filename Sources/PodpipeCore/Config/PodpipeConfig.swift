import Configuration
import Foundation
import SystemPackage

/// How the daemon notices new files.
public enum WatchMode: String, Sendable, CaseIterable {
    case inotify
    case poll
}

/// Where logs go: the systemd journal (native records), stderr lines, or decided by
/// `JOURNAL_STREAM` (auto).
public enum LogTarget: String, Sendable, CaseIterable {
    case auto
    case journal
    case stderr
}

/// podpipe's configuration. Precedence (SPEC §8): command-line flags, then environment
/// variables (`PODPIPE_…`), then the config file (`--config` or `PODPIPE_CONFIG`), then the
/// built-in defaults. Relative paths in the config file are relative to the file's folder;
/// relative paths from flags or the environment are relative to the working directory.
///
/// | key (JSON path)          | environment                      | default          |
/// |--------------------------|----------------------------------|------------------|
/// | `data_load`              | `PODPIPE_DATA_LOAD`              | `data_load`      |
/// | `database`               | `PODPIPE_DATABASE`               | `podpipe.sqlite` |
/// | `watch.mode`             | `PODPIPE_WATCH_MODE`             | `inotify`        |
/// | `watch.rescan_interval`  | `PODPIPE_WATCH_RESCAN_INTERVAL`  | `60` (seconds)   |
/// | `watch.settle`           | `PODPIPE_WATCH_SETTLE`           | `2` (seconds)    |
/// | `gold.refresh_interval`  | `PODPIPE_GOLD_REFRESH_INTERVAL`  | `300` (seconds)  |
/// | `validation.future_skew` | `PODPIPE_VALIDATION_FUTURE_SKEW` | `300` (seconds)  |
/// | `ingest.max_line_bytes`  | `PODPIPE_INGEST_MAX_LINE_BYTES`  | `33554432`       |
/// | `ingest.retry_backoff`   | `PODPIPE_INGEST_RETRY_BACKOFF`   | `30` (seconds)   |
/// | `log.target`             | `PODPIPE_LOG_TARGET`             | `auto`           |
/// | `log.level`              | `PODPIPE_LOG_LEVEL`              | `info`           |
public struct PodpipeConfig: Sendable, Equatable {
    public var configFile: String?
    public var dataLoad: String = "data_load"
    public var database: String = "podpipe.sqlite"
    public var watchMode: WatchMode = .inotify
    public var rescanInterval: Double = 60
    public var settle: Double = 2
    public var goldRefreshInterval: Double = 300
    public var futureSkew: Int64 = 300
    public var maxLineBytes: Int = 32 << 20
    /// The first wait before a `failed` file is tried again; it doubles with each failed
    /// attempt, up to an hour.
    public var retryBackoff: Double = 30
    public var logTarget: LogTarget = .auto
    public var logLevel: String = "info"

    public init() {}

    /// Values given on the command line (nil = not given).
    public struct Overrides: Sendable {
        public var configFile: String?
        public var dataLoad: String?
        public var database: String?
        public var logTarget: String?
        public init(
            configFile: String? = nil, dataLoad: String? = nil, database: String? = nil,
            logTarget: String? = nil
        ) {
            self.configFile = configFile
            self.dataLoad = dataLoad
            self.database = database
            self.logTarget = logTarget
        }
    }

    /// The settings the ingest pipeline needs.
    public var pipeline: PipelineSettings {
        PipelineSettings(
            dataLoad: dataLoad, futureSkewSeconds: futureSkew, maxLineBytes: maxLineBytes,
            retryBackoffSeconds: retryBackoff)
    }

    /// Resolves the configuration from flags, environment, file and defaults.
    public static func load(
        overrides: Overrides = Overrides(),
        environment: [String: String] = ProcessInfo.processInfo.environment,
        workingDirectory: String = FileManager.default.currentDirectoryPath
    ) async throws(ConfigError) -> PodpipeConfig {
        var config = PodpipeConfig()
        let env = ConfigReader(
            provider: KeyMappingProvider(
                upstream: EnvironmentVariablesProvider(environmentVariables: environment),
                keyMapper: { $0.prepending(["podpipe"]) }))
        let filePath = overrides.configFile ?? environment["PODPIPE_CONFIG"]
        var file: ConfigReader?
        var fileDirectory = workingDirectory
        if let filePath, !filePath.isEmpty {
            let absolute = absolutePath(filePath, relativeTo: workingDirectory)
            guard FileManager.default.fileExists(atPath: absolute) else {
                throw ConfigError.fileMissing(path: absolute)
            }
            do {
                file = ConfigReader(
                    provider: try await FileProvider<JSONSnapshot>(filePath: FilePath(absolute)))
            } catch {
                throw ConfigError.fileUnreadable(path: absolute, reason: "\(error)")
            }
            config.configFile = absolute
            fileDirectory = (absolute as NSString).deletingLastPathComponent
        }

        /// A string from the first layer that has it, and the folder it is relative to.
        func string(_ key: String, flag: String?) -> (String, String)? {
            if let flag { return (flag, workingDirectory) }
            if let value = env.string(forKey: ConfigKey(key)) { return (value, workingDirectory) }
            if let value = file?.string(forKey: ConfigKey(key)) { return (value, fileDirectory) }
            return nil
        }
        func number(_ key: String) throws(ConfigError) -> Double? {
            guard let (text, _) = string(key, flag: nil) else {
                if let value = file?.double(forKey: ConfigKey(key)) { return value }
                if let value = file?.int(forKey: ConfigKey(key)) { return Double(value) }
                return nil
            }
            guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value >= 0 else {
                throw ConfigError.invalidValue(
                    key: key, value: text, expected: "a non-negative number of seconds")
            }
            return value
        }

        if let (value, base) = string("data_load", flag: overrides.dataLoad) {
            config.dataLoad = absolutePath(value, relativeTo: base)
        } else {
            config.dataLoad = absolutePath(config.dataLoad, relativeTo: workingDirectory)
        }
        if let (value, base) = string("database", flag: overrides.database) {
            config.database = absolutePath(value, relativeTo: base)
        } else {
            config.database = absolutePath(config.database, relativeTo: workingDirectory)
        }
        if let (value, _) = string("watch.mode", flag: nil) {
            guard let mode = WatchMode(rawValue: value.lowercased()) else {
                throw ConfigError.invalidValue(key: "watch.mode", value: value, expected: "inotify or poll")
            }
            config.watchMode = mode
        }
        if let (value, _) = string("log.target", flag: overrides.logTarget) {
            guard let target = LogTarget(rawValue: value.lowercased()) else {
                throw ConfigError.invalidValue(
                    key: "log.target", value: value, expected: "auto, journal or stderr")
            }
            config.logTarget = target
        }
        if let (value, _) = string("log.level", flag: nil) {
            let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            guard levels.contains(value.lowercased()) else {
                throw ConfigError.invalidValue(
                    key: "log.level", value: value, expected: levels.joined(separator: ", "))
            }
            config.logLevel = value.lowercased()
        }
        if let value = try number("watch.rescan_interval") { config.rescanInterval = max(1, value) }
        if let value = try number("watch.settle") { config.settle = value }
        if let value = try number("gold.refresh_interval") { config.goldRefreshInterval = max(1, value) }
        if let value = try number("validation.future_skew") { config.futureSkew = Int64(value) }
        if let value = try number("ingest.max_line_bytes") {
            config.maxLineBytes = max(1024, Int(value))
        }
        if let value = try number("ingest.retry_backoff") { config.retryBackoff = max(1, value) }
        return config
    }

    static func absolutePath(_ path: String, relativeTo base: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        let joined = expanded.hasPrefix("/") ? expanded : (base as NSString).appendingPathComponent(expanded)
        return (joined as NSString).standardizingPath
    }
}

/// The pipeline's own settings, derived from the configuration.
public struct PipelineSettings: Sendable, Equatable {
    public var dataLoad: String
    public var futureSkewSeconds: Int64
    public var maxLineBytes: Int
    /// Seconds before a `failed` file's first retry; doubled per failed attempt, capped at
    /// an hour.
    public var retryBackoffSeconds: Double

    public init(
        dataLoad: String, futureSkewSeconds: Int64 = 300, maxLineBytes: Int = 32 << 20,
        retryBackoffSeconds: Double = 30
    ) {
        self.dataLoad = dataLoad
        self.futureSkewSeconds = futureSkewSeconds
        self.maxLineBytes = maxLineBytes
        self.retryBackoffSeconds = retryBackoffSeconds
    }
}

/// A configuration problem, with the key or file and what is expected.
public enum ConfigError: Error, CustomStringConvertible, Equatable {
    case fileMissing(path: String)
    case fileUnreadable(path: String, reason: String)
    case invalidValue(key: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .fileMissing(let path):
            "configuration file \(path) does not exist (given by --config or PODPIPE_CONFIG)"
        case .fileUnreadable(let path, let reason):
            "configuration file \(path) cannot be read as JSON: \(reason)"
        case .invalidValue(let key, let value, let expected):
            "configuration key \(key) has the value '\(value)'; expected \(expected)"
        }
    }
}
