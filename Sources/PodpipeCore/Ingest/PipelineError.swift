/// Errors of the ingest pipeline that are not about one row: typed, with the file and
/// what to do.
enum PipelineError: Error, CustomStringConvertible, Equatable {
    case database(message: String, file: String?)
    /// `lockFile`: the file locked, the database's resolved path (the lock is on the file).
    case anotherWriter(database: String, lockFile: String, holder: String?)
    case configuration(message: String)
    case dropFolderMissing(path: String)
    case interrupted

    var description: String {
        switch self {
        case .database(let message, let file):
            if let file { return "\(file): database error: \(message)" }
            return "database error: \(message)"
        case .anotherWriter(let database, let lockFile, let holder):
            let who = holder.map { " (held by \($0))" } ?? ""
            return
                "another podpipe writer is using \(database)\(who): only one podpiped or podpiped --once may write a database at a time, whatever path or link reaches it (the lock is on the file \(lockFile) itself). Wait for it to finish or stop the daemon."
        case .configuration(let message):
            return "configuration error: \(message)"
        case .dropFolderMissing(let path):
            return
                "drop folder \(path) does not exist or is not a directory: create it or set data_load / --data-load"
        case .interrupted:
            return "interrupted: the current file was rolled back and will be processed again"
        }
    }
}
