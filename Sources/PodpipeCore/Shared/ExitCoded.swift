/// An error that knows the process exit code it ends a command with (doc/cli.md, "Exit
/// codes"; README for podpiped). ``PodpipeExit/code(for:)`` is the one mapping.
protocol ExitCoded: Error {
    var exitCode: Int32 { get }
}

extension PodpipeExit {
    /// The exit code an error ends a command with: its own, or the database error code for
    /// errors that carry none (SQLite's, the system's).
    public static func code(for error: any Error) -> Int32 {
        (error as? any ExitCoded)?.exitCode ?? databaseError
    }
}

extension PipelineError: ExitCoded {
    var exitCode: Int32 {
        switch self {
        case .anotherWriter: PodpipeExit.anotherWriter
        case .configuration, .dropFolderMissing: PodpipeExit.configuration
        case .database: PodpipeExit.databaseError
        // A stop asked for by a signal: the file was rolled back, nothing is wrong.
        case .interrupted: PodpipeExit.success
        }
    }
}

extension StoreError: ExitCoded {
    var exitCode: Int32 { PodpipeExit.databaseError }
}

extension GoldError: ExitCoded {
    var exitCode: Int32 { PodpipeExit.databaseError }
}

extension ConfigError: ExitCoded {
    var exitCode: Int32 { PodpipeExit.configuration }
}

extension AfterCommitSetupError: ExitCoded {
    var exitCode: Int32 { PodpipeExit.configuration }
}

extension MaintenanceError: ExitCoded {
    var exitCode: Int32 {
        switch self {
        case .writerBusy, .noAnswer: PodpipeExit.anotherWriter
        case .unknownFiles, .unreadableRequest: PodpipeExit.filesFailed
        case .mailbox, .unfinished: PodpipeExit.databaseError
        }
    }
}

extension InspectError: ExitCoded {
    var exitCode: Int32 { PodpipeExit.filesFailed }
}

extension ReportError: ExitCoded {
    var exitCode: Int32 { PodpipeExit.filesFailed }
}

extension ReportOutputError: ExitCoded {
    var exitCode: Int32 { PodpipeExit.cannotCreate }
}
