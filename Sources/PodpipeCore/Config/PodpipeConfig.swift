import Foundation
import Logging

/// How the daemon notices new files.
enum WatchMode: String, Sendable, CaseIterable {
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
/// Every setting is checked by one rule (``ConfigSetting``), whatever layer it comes from:
/// a value out of its range, not finite, or of the wrong type is a ``ConfigError`` naming
/// the key, the layer and what is allowed (exit 78); nothing is clamped or ignored. Keys
/// of the file that no setting has are ``ConfigWarning``s (with the nearest known key).
///
/// | key (JSON path)          | environment                      | default          | allowed |
/// |--------------------------|----------------------------------|------------------|---------|
/// | `data_load`              | `PODPIPE_DATA_LOAD`              | `data_load`      | a path |
/// | `database`               | `PODPIPE_DATABASE`               | `podpipe.sqlite` | a path, or a `postgresql://` URI |
/// | `watch.mode`             | `PODPIPE_WATCH_MODE`             | `inotify`        | inotify, poll |
/// | `watch.rescan_interval`  | `PODPIPE_WATCH_RESCAN_INTERVAL`  | `60` (seconds)   | 1…86400 |
/// | `watch.settle`           | `PODPIPE_WATCH_SETTLE`           | `2` (seconds)    | 0…3600 |
/// | `gold.refresh_interval`  | `PODPIPE_GOLD_REFRESH_INTERVAL`  | `300` (seconds)  | 1…604800 |
/// | `validation.future_skew` | `PODPIPE_VALIDATION_FUTURE_SKEW` | `300` (seconds)  | whole, 0…315576000000 |
/// | `ingest.max_line_bytes`  | `PODPIPE_INGEST_MAX_LINE_BYTES`  | `33554432`       | whole, 1024…1073741824 |
/// | `ingest.retry_backoff`   | `PODPIPE_INGEST_RETRY_BACKOFF`   | `30` (seconds)   | 1…3600 |
/// | `ingest.group_seconds`   | `PODPIPE_INGEST_GROUP_SECONDS`   | `8` (seconds)    | 0…3600 |
/// | `log.target`             | `PODPIPE_LOG_TARGET`             | `auto`           | auto, journal, stderr |
/// | `log.level`              | `PODPIPE_LOG_LEVEL`              | `info`           | trace … critical |
/// | `ingest.after`           | `PODPIPE_INGEST_AFTER`           | `keep`           | keep, move, delete |
/// | `ingest.processed_dir`   | `PODPIPE_INGEST_PROCESSED_DIR`   | `processed` beside the drop folder | a path outside it |
/// | `ingest.rejected_dir`    | `PODPIPE_INGEST_REJECTED_DIR`    | `rejected` beside the drop folder | a path outside it |
/// | `watch.include`          | `PODPIPE_WATCH_INCLUDE`          | (all names)      | globs (JSON list; comma-separated in the environment) |
/// | `watch.exclude`          | `PODPIPE_WATCH_EXCLUDE`          | (none)           | globs (JSON list; comma-separated in the environment) |
/// | `watch.recursive`        | `PODPIPE_WATCH_RECURSIVE`        | `false`          | true, false |
/// | `health.max_backlog_age` | `PODPIPE_HEALTH_MAX_BACKLOG_AGE` | `900` (seconds)  | 1…604800 |
/// | `health.max_pass_age`    | `PODPIPE_HEALTH_MAX_PASS_AGE`    | `3600` (seconds) | 60…604800 |
/// | `metrics.textfile`       | `PODPIPE_METRICS_TEXTFILE`       | none (off)       | a path |
public struct PodpipeConfig: Sendable, Equatable {
    var configFile: String?
    var dataLoad: String = "data_load"
    /// Where ``dataLoad`` came from: `podpipectl status` uses the folder the daemon recorded
    /// when none was given (``SettingOrigin/builtInDefault``).
    var dataLoadOrigin: SettingOrigin = .builtInDefault
    public var database: String = "podpipe.sqlite"
    var watchMode: WatchMode = .inotify
    var rescanInterval: Double = 60
    var settle: Double = 2
    var goldRefreshInterval: Double = 300
    public var futureSkew: Int64 = 300
    public var maxLineBytes: Int = 32 << 20
    /// The first wait before a `failed` file is tried again; it doubles with each failed
    /// attempt, up to an hour.
    var retryBackoff: Double = 30
    /// How long files waiting together share one transaction (``PipelineSettings/groupSeconds``).
    var groupSeconds: Double = PipelineSettings.defaultGroupSeconds
    var logTarget: LogTarget = .auto
    var logLevel: String = "info"
    // MARK: After commit and file selection (issue 16)
    /// What becomes of a file once its transaction committed (``AfterCommitSettings``).
    var afterCommit = AfterCommitSettings()
    /// Which names of the drop folder are candidates, on top of their kinds.
    var selection = FolderSelection()
    // Health and metrics (issue 16): `status` is unhealthy when the oldest waiting file is
    // older than `maxBacklogAge`, or (a daemon running) the last successful pass is older
    // than `maxPassAge`; `metricsTextfile` is where the writer puts the Prometheus text.
    var maxBacklogAge: Double = 900
    var maxPassAge: Double = 3600
    var metricsTextfile: String?
    /// What the loader noticed but did not refuse (unknown keys of the file); the caller
    /// logs them once its logger is set up.
    public var warnings: [ConfigWarning] = []

    init() {}

    /// Values given on the command line (nil = not given). A flag's value is checked by the
    /// command-line parser (a bad one is a usage error, exit 64), so it arrives typed.
    public struct Overrides: Sendable {
        var configFile: String?
        var dataLoad: String?
        var database: String?
        var logTarget: LogTarget?
        public init(
            configFile: String? = nil, dataLoad: String? = nil, database: String? = nil,
            logTarget: LogTarget? = nil
        ) {
            self.configFile = configFile
            self.dataLoad = dataLoad
            self.database = database
            self.logTarget = logTarget
        }
    }

    /// The settings the ingest pipeline needs.
    var pipeline: PipelineSettings {
        PipelineSettings(
            dataLoad: dataLoad, futureSkewSeconds: futureSkew, maxLineBytes: maxLineBytes,
            retryBackoffSeconds: retryBackoff, afterCommit: afterCommit, selection: selection,
            groupSeconds: groupSeconds)
    }

    /// Resolves the configuration from flags, environment, file and defaults (reads the
    /// file, then ``resolve(overrides:environment:file:workingDirectory:)``).
    public static func load(
        overrides: Overrides = Overrides(),
        environment: [String: String] = ProcessInfo.processInfo.environment,
        workingDirectory: String = FileManager.default.currentDirectoryPath
    ) async throws(ConfigError) -> PodpipeConfig {
        var file: ConfigFile?
        if let filePath = overrides.configFile ?? environment["PODPIPE_CONFIG"], !filePath.isEmpty {
            let absolute = absolutePath(filePath, relativeTo: workingDirectory)
            guard FileManager.default.fileExists(atPath: absolute) else {
                throw ConfigError.fileMissing(path: absolute)
            }
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: absolute))
            } catch {
                throw ConfigError.fileUnreadable(path: absolute, reason: "\(error)")
            }
            file = try ConfigFile.parse(data, path: absolute)
        }
        return try resolve(
            overrides: overrides, environment: environment, file: file, workingDirectory: workingDirectory)
    }

    /// The configuration from the layers, without I/O: each setting from the first layer
    /// that has it, checked by its ``ConfigSetting`` rule.
    static func resolve(
        overrides: Overrides = Overrides(), environment: [String: String], file: ConfigFile?,
        workingDirectory: String
    ) throws(ConfigError) -> PodpipeConfig {
        var config = PodpipeConfig()
        config.configFile = file?.path
        let fileDirectory = file.map { ($0.path as NSString).deletingLastPathComponent } ?? workingDirectory

        /// The first layer's raw value of `setting`, with where it came from.
        func raw(_ setting: ConfigSetting) -> (ConfigValue, ConfigSource)? {
            if let text = environment[setting.environmentName] {
                return (.text(text), .environment(setting.environmentName))
            }
            if let file, let value = file.values[setting.key] {
                return (value, .file(path: file.path, key: setting.key))
            }
            return nil
        }
        func check<T>(_ setting: ConfigSetting, _ rule: (ConfigValue) -> T?) throws(ConfigError) -> (
            T, ConfigSource
        )? {
            guard let (value, source) = raw(setting) else { return nil }
            guard let checked = rule(value) else {
                throw ConfigError.invalidValue(
                    key: setting.key, source: source, value: value.description, expected: setting.allowed)
            }
            return (checked, source)
        }
        /// A path setting's value made absolute (nil: not set): relative to the config
        /// file's folder when it came from the file, else to the working directory.
        func optionalPath(_ setting: ConfigSetting) throws(ConfigError) -> String? {
            guard let (text, source) = try check(setting, setting.text) else { return nil }
            if case .file = source { return absolutePath(text, relativeTo: fileDirectory) }
            return absolutePath(text, relativeTo: workingDirectory)
        }
        func path(_ setting: ConfigSetting, flag: String?, default fallback: String) throws(ConfigError)
            -> String
        {
            if let flag { return absolutePath(flag, relativeTo: workingDirectory) }
            return try optionalPath(setting) ?? absolutePath(fallback, relativeTo: workingDirectory)
        }

        config.dataLoad = try path(.dataLoad, flag: overrides.dataLoad, default: config.dataLoad)
        // A PostgreSQL URI is never a path (not made absolute, never created as a file).
        var databaseSetting: (String, ConfigSource)?
        if let flag = overrides.database {
            databaseSetting = (flag, .flag("--database"))
        } else {
            databaseSetting = try check(.database, ConfigSetting.database.text)
        }
        config.dataLoadOrigin =
            overrides.dataLoad != nil
            ? .flag : raw(.dataLoad).map { $0.1.origin } ?? .builtInDefault
        if let (setting, _) = databaseSetting, case .postgresql = DatabaseLocation(setting) {
            config.database = setting
        } else {
            config.database = try path(.database, flag: overrides.database, default: config.database)
        }
        if let (text, _) = try check(.watchMode, ConfigSetting.watchMode.text) {
            config.watchMode = WatchMode(rawValue: text) ?? config.watchMode
        }
        if let target = overrides.logTarget {
            config.logTarget = target
        } else if let (text, _) = try check(.logTarget, ConfigSetting.logTarget.text) {
            config.logTarget = LogTarget(rawValue: text) ?? config.logTarget
        }
        if let (text, _) = try check(.logLevel, ConfigSetting.logLevel.text) { config.logLevel = text }
        if let (value, _) = try check(.rescanInterval, ConfigSetting.rescanInterval.number) {
            config.rescanInterval = value
        }
        if let (value, _) = try check(.settle, ConfigSetting.settle.number) { config.settle = value }
        if let (value, _) = try check(.goldRefreshInterval, ConfigSetting.goldRefreshInterval.number) {
            config.goldRefreshInterval = value
        }
        if let (value, _) = try check(.futureSkew, ConfigSetting.futureSkew.number) {
            config.futureSkew = Int64(value)  // whole and within ±2^53 by the rule
        }
        if let (value, _) = try check(.maxLineBytes, ConfigSetting.maxLineBytes.number) {
            config.maxLineBytes = Int(value)  // whole and within 2^30 by the rule
        }
        if let (value, _) = try check(.retryBackoff, ConfigSetting.retryBackoff.number) {
            config.retryBackoff = value
        }
        if let (value, _) = try check(.groupSeconds, ConfigSetting.groupSeconds.number) {
            config.groupSeconds = value
        }
        // After commit and file selection (issue 16).
        let parent = (config.dataLoad as NSString).deletingLastPathComponent
        if let (text, _) = try check(.afterCommit, ConfigSetting.afterCommit.text) {
            config.afterCommit.mode = AfterCommitMode(rawValue: text) ?? .keep
        }
        config.afterCommit.processedDir = try path(
            .processedDir, flag: nil, default: (parent as NSString).appendingPathComponent("processed"))
        config.afterCommit.rejectedDir = try path(
            .rejectedDir, flag: nil, default: (parent as NSString).appendingPathComponent("rejected"))
        if config.afterCommit.mode == .move {
            for (setting, folder) in [
                (ConfigSetting.processedDir, config.afterCommit.processedDir),
                (.rejectedDir, config.afterCommit.rejectedDir),
            ] where FolderSelection.isWithin(folder, config.dataLoad) {
                throw ConfigError.insideDropFolder(key: setting.key, path: folder, folder: config.dataLoad)
            }
        }
        if let (globs, _) = try check(.include, ConfigSetting.include.globs) {
            config.selection.include = globs
        }
        if let (globs, _) = try check(.exclude, ConfigSetting.exclude.globs) {
            config.selection.exclude = globs
        }
        if let (flag, _) = try check(.recursive, ConfigSetting.recursive.flag) {
            config.selection.recursive = flag
        }
        config.selection.skippedFolders = [config.afterCommit.processedDir, config.afterCommit.rejectedDir]
        // Health and metrics.
        if let (value, _) = try check(.maxBacklogAge, ConfigSetting.maxBacklogAge.number) {
            config.maxBacklogAge = value
        }
        if let (value, _) = try check(.maxPassAge, ConfigSetting.maxPassAge.number) {
            config.maxPassAge = value
        }
        config.metricsTextfile = try optionalPath(.metricsTextfile)
        config.warnings =
            file?.unknownKeys.map { ConfigWarning.unknownKey(key: $0, path: file?.path ?? "") } ?? []
        return config
    }

    /// Logs ``warnings`` (at start-up and after each reload).
    public func logWarnings(to logger: Logger) {
        for warning in warnings {
            logger.warning("\(warning)", metadata: LogEventKind.configWarning.metadata())
        }
    }

    static func absolutePath(_ path: String, relativeTo base: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        let joined = expanded.hasPrefix("/") ? expanded : (base as NSString).appendingPathComponent(expanded)
        return (joined as NSString).standardizingPath
    }
}

/// One setting and its one rule: the key, its environment variable, and what it accepts.
/// The same rule checks a value from the environment, the file or a reload.
struct ConfigSetting: Sendable, Hashable {
    /// What values a setting takes.
    enum Kind: Sendable, Hashable {
        /// Any non-empty text (a file or folder).
        case path
        /// One of these words (compared lower-cased).
        case choice([String])
        /// A finite number in the range; `whole`: without a fraction.
        case number(ClosedRange<Double>, whole: Bool)
        /// File-name globs (fnmatch(3)): a JSON list of non-empty strings in the file, a
        /// comma-separated list in the environment; at most 64, each at most 255 bytes.
        case globs
        /// true or false (a JSON boolean; `true`/`false`, `yes`/`no`, `1`/`0`, `on`/`off` as text).
        case flag
    }

    /// The JSON path in the file (`watch.settle`).
    let key: String
    let kind: Kind

    /// `PODPIPE_` and the key upper-cased, `.` as `_` (`PODPIPE_WATCH_SETTLE`).
    var environmentName: String {
        "PODPIPE_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    static let dataLoad = ConfigSetting(key: "data_load", kind: .path)
    static let database = ConfigSetting(key: "database", kind: .path)
    static let watchMode = ConfigSetting(
        key: "watch.mode", kind: .choice(WatchMode.allCases.map(\.rawValue)))
    // Intervals are bounded above so that every later conversion (milliseconds for poll(),
    // Int32 timeouts, Date arithmetic) stays far from overflow, and below where a smaller
    // value would only spin: a day, an hour and a week are beyond any sensible setting.
    static let rescanInterval = ConfigSetting(
        key: "watch.rescan_interval", kind: .number(1...86_400, whole: false))
    static let settle = ConfigSetting(key: "watch.settle", kind: .number(0...3_600, whole: false))
    static let goldRefreshInterval = ConfigSetting(
        key: "gold.refresh_interval", kind: .number(1...604_800, whole: false))
    /// Up to 10,000 years: any later timestamp is past 9999-12-31 and rejected anyway
    /// (``EventValidator/latestTimestamp``); whole seconds, as the rule compares them.
    static let futureSkew = ConfigSetting(
        key: "validation.future_skew", kind: .number(0...315_576_000_000, whole: true))
    /// At least 1 KiB (a line shorter than that is a real event), at most 1 GiB (the line
    /// buffer is allocated up to it).
    static let maxLineBytes = ConfigSetting(
        key: "ingest.max_line_bytes", kind: .number(1_024...1_073_741_824, whole: true))
    /// The backoff doubles up to an hour: a first wait beyond it means nothing.
    static let retryBackoff = ConfigSetting(
        key: "ingest.retry_backoff", kind: .number(1...3_600, whole: false))
    /// 0 turns the group commit off; an hour bounds what a stop may roll back.
    static let groupSeconds = ConfigSetting(
        key: "ingest.group_seconds", kind: .number(0...3_600, whole: false))
    static let logTarget = ConfigSetting(
        key: "log.target", kind: .choice(LogTarget.allCases.map(\.rawValue)))
    static let logLevel = ConfigSetting(
        key: "log.level", kind: .choice(["trace", "debug", "info", "notice", "warning", "error", "critical"]))
    // After commit and file selection (issue 16).
    static let afterCommit = ConfigSetting(
        key: "ingest.after", kind: .choice(AfterCommitMode.allCases.map(\.rawValue)))
    static let processedDir = ConfigSetting(key: "ingest.processed_dir", kind: .path)
    static let rejectedDir = ConfigSetting(key: "ingest.rejected_dir", kind: .path)
    static let include = ConfigSetting(key: "watch.include", kind: .globs)
    static let exclude = ConfigSetting(key: "watch.exclude", kind: .globs)
    static let recursive = ConfigSetting(key: "watch.recursive", kind: .flag)

    // Health and metrics. A backlog or a pass older than a week is beyond any sensible
    // alert (and keeps the seconds far from any overflow); a pass age under a minute would
    // flag a daemon that is only between two listings (the heartbeat records the pass
    // every 10 s).
    static let maxBacklogAge = ConfigSetting(
        key: "health.max_backlog_age", kind: .number(1...604_800, whole: false))
    static let maxPassAge = ConfigSetting(
        key: "health.max_pass_age", kind: .number(60...604_800, whole: false))
    static let metricsTextfile = ConfigSetting(key: "metrics.textfile", kind: .path)

    /// Every setting, in the order of the documentation.
    static let all: [ConfigSetting] = [
        .dataLoad, .database, .watchMode, .rescanInterval, .settle, .goldRefreshInterval,
        .futureSkew, .maxLineBytes, .retryBackoff, .groupSeconds, .logTarget, .logLevel,
        .afterCommit, .processedDir, .rejectedDir, .include, .exclude, .recursive,
        .maxBacklogAge, .maxPassAge, .metricsTextfile,
    ]

    /// What the rule accepts, as the error message says it.
    var allowed: String {
        switch kind {
        case .path: return "a non-empty path"
        case .choice(let words): return "one of " + words.joined(separator: ", ")
        case .number(let range, let whole):
            let bounds = "\(Self.plain(range.lowerBound)) to \(Self.plain(range.upperBound))"
            return whole ? "a whole number from \(bounds)" : "a number from \(bounds)"
        case .flag: return "true or false"
        case .globs:
            return
                "a list of at most 64 non-empty file-name globs (a JSON list of strings; comma-separated in the environment)"
        }
    }

    /// The rule for a true/false setting.
    func flag(_ value: ConfigValue) -> Bool? {
        guard case .flag = kind else { return nil }
        switch value {
        case .flag(let flag): return flag
        case .text(let text):
            switch text.trimmingCharacters(in: .whitespaces).lowercased() {
            case "true", "yes", "1", "on": return true
            case "false", "no", "0", "off": return false
            default: return nil
            }
        default: return nil
        }
    }

    /// The rule for a list of globs: each non-empty, at most 255 bytes, without `/` (they
    /// match file names) or a NUL; at most 64.
    func globs(_ value: ConfigValue) -> [String]? {
        guard case .globs = kind else { return nil }
        let items: [String]
        switch value {
        case .text(let text):
            items = text.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
        case .list(let list): items = list
        default: return nil
        }
        guard !items.isEmpty, items.count <= 64,
            items.allSatisfy({
                !$0.isEmpty && $0.utf8.count <= 255 && !$0.contains("/") && !$0.contains("\0")
            })
        else { return nil }
        return items
    }

    /// The rule for a text setting (path or choice): the value, or nil if it breaks it.
    func text(_ value: ConfigValue) -> String? {
        guard case .text(let text) = value else { return nil }
        switch kind {
        case .path: return text.isEmpty ? nil : text
        case .choice(let words):
            let word = text.trimmingCharacters(in: .whitespaces).lowercased()
            return words.contains(word) ? word : nil
        case .number, .globs, .flag: return nil
        }
    }

    /// The rule for a number setting: a JSON number, or a text that is a decimal number
    /// (environment, or a quoted number in the file); finite, in range, whole if it must be.
    /// `inf`, `nan`, `1e300` and hexadecimal floats are refused here, before any conversion
    /// to an integer could trap.
    func number(_ value: ConfigValue) -> Double? {
        guard case .number(let range, let whole) = kind else { return nil }
        let number: Double
        switch value {
        case .number(let n): number = n
        case .text(let text):
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            // Decimal notation only: Double("inf"), Double("nan") and Double("0x1p4") parse.
            guard !trimmed.isEmpty,
                trimmed.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }),
                let parsed = Double(trimmed)
            else { return nil }
            number = parsed
        default: return nil
        }
        guard number.isFinite, range.contains(number) else { return nil }
        if whole && number.rounded(.towardZero) != number { return nil }
        return number
    }

    /// `300` rather than `300.0`.
    static func plain(_ value: Double) -> String {
        value.rounded(.towardZero) == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// The known key nearest to `key` (edit distance at most a third of its length, at
    /// least 2), for "did you mean".
    static func nearest(to key: String) -> String? {
        let scored = all.map { ($0.key, editDistance(key, $0.key)) }.min { $0.1 < $1.1 }
        guard let (best, distance) = scored, distance <= max(2, key.count / 3) else { return nil }
        return best
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased())
        let b = Array(b.lowercased())
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(
                    previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// A raw value of one setting before its rule: text (environment, a JSON string) or a JSON
/// number; `other` is any other JSON type (always refused, with its JSON type named).
enum ConfigValue: Sendable, Equatable, CustomStringConvertible {
    case text(String)
    case number(Double)
    /// A JSON list of strings (the globs of `watch.include`).
    case list([String])
    /// A JSON boolean (`watch.recursive`).
    case flag(Bool)
    case other(String)

    var description: String {
        switch self {
        case .text(let text): text
        case .number(let number): ConfigSetting.plain(number)
        case .list(let items): "[" + items.joined(separator: ", ") + "]"
        case .flag(let flag): flag ? "true" : "false"
        case .other(let type): "(a JSON \(type))"
        }
    }
}

/// Where a value came from, as error messages name it.
public enum ConfigSource: Sendable, Equatable, CustomStringConvertible {
    case environment(String)
    case file(path: String, key: String)
    /// A command-line flag (`--database`).
    case flag(String)

    var origin: SettingOrigin {
        switch self {
        case .environment: .environment
        case .file: .file
        case .flag: .flag
        }
    }

    public var description: String {
        switch self {
        case .environment(let name): "environment variable \(name)"
        case .flag(let name): "flag \(name)"
        case .file(let path, _): "configuration file \(path)"
        }
    }
}

/// The config file, flattened: every leaf's dotted key and value, and the keys no setting
/// has. Parsing is pure (tests give it bytes).
struct ConfigFile: Sendable, Equatable {
    var path: String
    /// Known keys with their values.
    var values: [String: ConfigValue]
    /// Keys (leaves or whole objects) no setting has, in file order of the sorted keys.
    var unknownKeys: [String]

    static func parse(_ data: Data, path: String) throws(ConfigError) -> ConfigFile {
        let root: JSONValue
        do {
            root = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw ConfigError.fileUnreadable(path: path, reason: "not valid JSON (\(error))")
        }
        guard case .object(let object) = root else {
            throw ConfigError.fileUnreadable(path: path, reason: "the top level is not a JSON object")
        }
        let known = Set(ConfigSetting.all.map(\.key))
        let prefixes = Set(
            ConfigSetting.all.flatMap { setting in
                let parts = setting.key.split(separator: ".")
                return (1..<max(1, parts.count)).map { parts.prefix($0).joined(separator: ".") }
            })
        var file = ConfigFile(path: path, values: [:], unknownKeys: [])
        func walk(_ object: [String: JSONValue], prefix: String) {
            for key in object.keys.sorted() {
                let full = prefix.isEmpty ? key : prefix + "." + key
                guard let value = object[key] else { continue }
                if case .object(let nested) = value, prefixes.contains(full) {
                    walk(nested, prefix: full)
                } else if known.contains(full) {
                    file.values[full] = value.configValue
                } else {
                    file.unknownKeys.append(full)
                }
            }
        }
        walk(object, prefix: "")
        return file
    }

    /// A JSON value as the config file holds it.
    enum JSONValue: Decodable {
        case text(String)
        case number(Double)
        case boolean(Bool)
        case null
        case array
        /// A list whose every element is a string.
        case strings([String])
        case object([String: JSONValue])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let flag = try? container.decode(Bool.self) {
                self = .boolean(flag)
            } else if let number = try? container.decode(Double.self) {
                self = .number(number)
            } else if let text = try? container.decode(String.self) {
                self = .text(text)
            } else if let object = try? container.decode([String: JSONValue].self) {
                self = .object(object)
            } else if let strings = try? container.decode([String].self) {
                self = .strings(strings)
            } else {
                _ = try container.decode([JSONValue].self)
                self = .array
            }
        }

        var configValue: ConfigValue {
            switch self {
            case .text(let text): .text(text)
            case .number(let number): .number(number)
            case .boolean(let flag): .flag(flag)
            case .null: .other("null")
            case .array: .other("array")
            case .strings(let items): .list(items)
            case .object: .other("object")
            }
        }
    }
}

/// Something the configuration loader noticed but did not refuse.
public enum ConfigWarning: Sendable, Equatable, CustomStringConvertible {
    case unknownKey(key: String, path: String)

    public var description: String {
        switch self {
        case .unknownKey(let key, let path):
            if let near = ConfigSetting.nearest(to: key) {
                "configuration file \(path): unknown key \(key) is ignored; did you mean \(near)?"
            } else {
                "configuration file \(path): unknown key \(key) is ignored (known keys: \(ConfigSetting.all.map(\.key).joined(separator: ", ")))"
            }
        }
    }
}

/// The pipeline's own settings, derived from the configuration.
struct PipelineSettings: Sendable, Equatable {
    var dataLoad: String
    var futureSkewSeconds: Int64
    var maxLineBytes: Int
    /// Seconds before a `failed` file's first retry; doubled per failed attempt, capped at
    /// an hour.
    var retryBackoffSeconds: Double
    /// What ``WriterSession`` does with a file once it settled (the ingest never reads it).
    var afterCommit: AfterCommitSettings
    /// Which names of the drop folder the listing keeps.
    var selection: FolderSelection
    /// Files waiting together share one transaction until it has run this long (a group
    /// commit, ``Pipeline/ingestGroup(_:)``); 0: one transaction per file. It bounds the
    /// work a stop or a crash rolls back and how long a loaded file stays invisible.
    var groupSeconds: Double

    /// Eight seconds: on a history of 5M seed-shaped events a file takes about 2 s alone,
    /// so a backlog commits 3–4 files at a time (doc/performance.md, session 11).
    static let defaultGroupSeconds = 8.0

    init(
        dataLoad: String, futureSkewSeconds: Int64 = 300, maxLineBytes: Int = 32 << 20,
        retryBackoffSeconds: Double = 30, afterCommit: AfterCommitSettings = AfterCommitSettings(),
        selection: FolderSelection = FolderSelection(), groupSeconds: Double = defaultGroupSeconds
    ) {
        self.dataLoad = dataLoad
        self.futureSkewSeconds = futureSkewSeconds
        self.maxLineBytes = maxLineBytes
        self.retryBackoffSeconds = retryBackoffSeconds
        self.afterCommit = afterCommit
        self.selection = selection
        self.groupSeconds = groupSeconds
    }
}

/// A configuration problem, with the key or file, where the value came from and what is
/// expected. Always exit 78 (EX_CONFIG).
public enum ConfigError: Error, CustomStringConvertible, Equatable {
    case fileMissing(path: String)
    case fileUnreadable(path: String, reason: String)
    case invalidValue(key: String, source: ConfigSource, value: String, expected: String)
    /// `ingest.after = move` with a folder inside the drop folder (or the drop folder itself).
    case insideDropFolder(key: String, path: String, folder: String)

    public var description: String {
        switch self {
        case .fileMissing(let path):
            "configuration file \(path) does not exist (given by --config or PODPIPE_CONFIG)"
        case .fileUnreadable(let path, let reason):
            "configuration file \(path) cannot be read as JSON: \(reason)"
        case .invalidValue(let key, let source, let value, let expected):
            "configuration key \(key) has the value '\(value)' (from the \(source)); expected \(expected)"
        case .insideDropFolder(let key, let path, let folder):
            "configuration key \(key) is \(path), inside the drop folder \(folder): moved files would be watched again. Put it beside the drop folder (the default is a sibling folder), or set ingest.after to keep or delete"
        }
    }
}

/// Which layer a setting's value came from (flags override the environment, which overrides
/// the file, which overrides the built-in default).
enum SettingOrigin: String, Sendable, Equatable {
    case flag, environment, file
    case builtInDefault = "default"
}
