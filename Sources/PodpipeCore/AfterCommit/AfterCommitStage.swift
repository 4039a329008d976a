import Foundation
import GRDB
import Logging
import PodpipeRules
import Synchronization

/// The after-commit stage (`ingest.after`, SPEC §3): once a file's final ledger entry has
/// committed, moves the file to `processed/` (loaded, duplicate) or `rejected/`, or deletes
/// it; `failed` files stay to be retried. It listens to the ingest (``IngestObserver``):
/// the ingest never names it, and nothing it does can undo a load.
///
/// The order, for each file: COMMIT → the commits made durable (``DisposalStore``: SQLite's
/// fsync of the WAL, PostgreSQL's commit that waits for the WAL flush) → the
/// file is stated again and must still be the one the ledger settled (else it holds new
/// bytes: the next pass loads it) → rename(2) without replacing (``SourceMover``) or
/// unlink → the ledger notes where it went (migration 0010). A crash anywhere before the
/// rename leaves the file in the folder with its final ledger row: the next listing finds
/// it settled and announces it again (``Pipeline``), and it is moved without being read.
/// A failure (permissions, another file system) is logged once per file and reason
/// (`file_move_failed`) and tried again at every pass. The same stage runs on every engine:
/// what it needs of the store is a ``DisposalStore``.
final class AfterCommitStage: IngestObserver {
    let settings: AfterCommitSettings
    let dropFolder: String
    let store: any DisposalStore
    let logger: Logger
    /// The last failure logged per file name (said once, at warning, until it changes).
    private let failures = Mutex<[String: String]>([:])

    init(settings: AfterCommitSettings, dropFolder: String, store: any DisposalStore, logger: Logger) {
        self.settings = settings
        self.dropFolder = dropFolder
        self.store = store
        self.logger = logger
    }

    /// The stage a writer puts after its ingest for `settings` (`settings.afterCommit`),
    /// or nil in `keep` mode (nothing follows the commits). The one place both writers
    /// (``WriterSession``, ``PostgresWriterSession``) get it from.
    static func following(_ settings: PipelineSettings, store: any DisposalStore, logger: Logger)
        -> AfterCommitStage?
    {
        guard settings.afterCommit.mode != .keep else { return nil }
        return AfterCommitStage(
            settings: settings.afterCommit, dropFolder: settings.dataLoad, store: store, logger: logger)
    }

    func eventFileBegins(silverLast: Int64, expectedEvents: Int64, _ db: Database) throws {}
    func eventRowsInserted(_ rows: [SilverRow], inserted: [Bool]) {}
    func fileRolledBack() {}
    func fileCommitted() {}

    var followsSettledFiles: Bool { settings.mode != .keep }

    /// Moves (or deletes) `files` in order: one fsync of the WAL for all of them (it covers
    /// every commit so far), a rename or unlink each, then one transaction recording where
    /// each went. A file that fails is logged and left for the next pass; the others go on.
    func filesSettled(_ files: [SettledFile]) {
        // Still the files the ledger settled? (Gone: nothing to do. New bytes: a new
        // version, which the next pass loads before it goes.)
        let due = files.filter { file in
            guard settings.destination(for: file.entry.state) != nil, file.entry.fileId != nil,
                let now = DropFolder.restat(file.candidate)
            else { return false }
            return file.entry.settles(now)
        }
        guard !due.isEmpty else { return }
        do {
            try store.syncCommitted()
        } catch {
            for file in due { failed(file, error) }
            return
        }
        var done: [(file: SettledFile, destination: AfterCommitDestination, target: String?)] = []
        for file in due {
            guard let destination = settings.destination(for: file.entry.state) else { continue }
            FaultInjection.reach(.beforeMove)
            do {
                let source = file.candidate.entryBytes
                if let folder = settings.folder(of: destination) {
                    let moved = try SourceMover.move(
                        source, into: folder, relative: relativeName(file.candidate),
                        extensionLength: FileClassifier.kindExtensionLength(file.candidate.name))
                    done.append((file, destination, DropFolder.displayName(moved)))
                } else {
                    try SourceMover.delete(source)
                    done.append((file, destination, nil))
                }
            } catch {
                failed(file, error)
            }
        }
        guard !done.isEmpty else { return }
        do {
            try store.recordDisposals(
                done.compactMap { file, destination, target in
                    file.entry.fileId.map { Disposal(fileId: $0, destination: destination, path: target) }
                }, at: Date())
        } catch {
            // The files are where they belong; only the ledger's note of it is missing.
            logger.warning(
                "\(done.count) file(s) moved or deleted, but the ledger could not record it: \(error)",
                metadata: LogEventKind.fileMoveFailed.metadata(["error": "\(error)"]))
        }
        for (file, destination, target) in done {
            failures.withLock { $0[file.candidate.name] = nil }
            let log = logger.with(["file": "\(file.candidate.name)", "state": "\(file.entry.state.rawValue)"])
            if let target {
                log.info(
                    "file moved to \(target)",
                    metadata: LogEventKind.fileMoved.metadata([
                        "to": "\(target)", "destination": "\(destination.rawValue)",
                    ]))
            } else {
                log.info("file deleted", metadata: LogEventKind.fileDeleted.metadata())
            }
        }
    }

    /// Logs a file that could not be moved: at warning the first time for a file and
    /// reason, at debug when it repeats (each pass tries again).
    private func failed(_ file: SettledFile, _ error: any Error) {
        let message = "\(error)"
        let first = failures.withLock { known in
            defer { known[file.candidate.name] = message }
            return known[file.candidate.name] != message
        }
        let verb = settings.mode == .delete ? "deleted" : "moved"
        let metadata = LogEventKind.fileMoveFailed.metadata([
            "file": "\(file.candidate.name)", "state": "\(file.entry.state.rawValue)", "error": "\(message)",
        ])
        let text = "file committed but not \(verb), tried again at the next pass: \(message)"
        if first {
            logger.warning("\(text)", metadata: metadata)
        } else {
            logger.debug("\(text)", metadata: metadata)
        }
    }

    /// The entry's path relative to the drop folder (its name, or `2024/05/01/name` in a
    /// sub-folder), as bytes.
    private func relativeName(_ candidate: Candidate) -> [UInt8] {
        let bytes = candidate.entryBytes
        let prefix = Array((dropFolder.hasSuffix("/") ? dropFolder : dropFolder + "/").utf8)
        if bytes.starts(with: prefix) { return Array(bytes[prefix.count...]) }
        return Array(bytes[((bytes.lastIndex(of: UInt8(ascii: "/")).map { $0 + 1 }) ?? 0)...])
    }
}
