import Foundation
import Logging
import Synchronization

/// The process-wide logging settings that every ``PodpipeLogHandler`` reads at each call:
/// the level and whether records go to the journal. SIGHUP updates them in place.
final class LoggingControl: Sendable {
    private let levelIndex: Atomic<Int>
    private let journal: Atomic<Bool>
    /// `SYSLOG_IDENTIFIER` of journal records.
    let identifier: String

    init(level: Logger.Level, useJournal: Bool, identifier: String) {
        levelIndex = Atomic(Self.levels.firstIndex(of: level) ?? 2)
        journal = Atomic(useJournal)
        self.identifier = identifier
    }

    static let levels: [Logger.Level] = Logger.Level.allCases

    var level: Logger.Level {
        let index = levelIndex.load(ordering: .relaxed)
        return Self.levels.indices.contains(index) ? Self.levels[index] : .info
    }

    var useJournal: Bool { journal.load(ordering: .relaxed) }

    /// Applies `log.level` and `log.target` from a (re)loaded configuration.
    func apply(
        _ config: PodpipeConfig, environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        let level = Logger.Level(rawValue: config.logLevel) ?? .info
        levelIndex.store(Self.levels.firstIndex(of: level) ?? 2, ordering: .relaxed)
        journal.store(Self.useJournal(config.logTarget, environment: environment), ordering: .relaxed)
    }

    /// `journal` always, `stderr` never, `auto` when stderr is the journal's stream
    /// (`JOURNAL_STREAM` matches fd 2, as under systemd).
    static func useJournal(_ target: LogTarget, environment: [String: String]) -> Bool {
        switch target {
        case .journal: true
        case .stderr: false
        case .auto: JournalSender.stderrIsJournal(environment: environment)
        }
    }
}

/// Process-wide logging set-up for the executables.
public enum PodpipeLogging {
    private static let installed = Mutex<LoggingControl?>(nil)

    /// The control of the bootstrapped logging system (nil before ``bootstrap(_:label:)``).
    static var control: LoggingControl? { installed.withLock { $0 } }

    /// Sets up swift-log once for the process (journal records or stderr lines, per
    /// `log.target`) and returns the root logger. Later calls only re-apply the settings.
    public static func bootstrap(_ config: PodpipeConfig, label: String) -> Logger {
        let control = installed.withLock { current -> LoggingControl in
            if let current {
                current.apply(config)
                return current
            }
            let level = Logger.Level(rawValue: config.logLevel) ?? .info
            let made = LoggingControl(
                level: level,
                useJournal: LoggingControl.useJournal(
                    config.logTarget, environment: ProcessInfo.processInfo.environment),
                identifier: label)
            LoggingSystem.bootstrap { name in PodpipeLogHandler(label: name, control: made) }
            current = made
            return made
        }
        _ = control
        return Logger(label: label)
    }
}
