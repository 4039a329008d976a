import Foundation
import Logging

/// Process-wide logging set-up for the executables.
public enum PodpipeLogging {
    /// Sets up swift-log once for the process and returns the root logger.
    /// (The journal handler arrives with the daemon work; until then: stderr lines.)
    public static func bootstrap(_ config: PodpipeConfig, label: String) -> Logger {
        let level = Logger.Level(rawValue: config.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}
