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
/// The order, for each file: COMMIT → fsync of the WAL (``Store/syncCommitted()``) → the
/// file is stated again and must still be the one the ledger settled (else it holds new
/// bytes: the next pass loads it) → rename(2) without replacing (``SourceMover``) or
/// unlink → the ledger notes where it went (migration 0010). A crash anywhere before the
/// rename leaves the file in the folder with its final ledger row: the next listing finds
/// it settled and announces it again (``Pipeline``), and it is moved without being read.
/// A failure (permissions, another file system) is logged once per file and reason
/// (`file_move_failed`) and tried again at every pass.
final class AfterCommitStage: IngestObserver {
    let settings: AfterCommitSettings
    let dropFolder: String
    let store: Store
    let logger: Logger
    /// The last failure logged per file name (said once, at warning, until it changes).
    private let failures = Mutex<[String: String]>([:])

    init(settings: AfterCommitSettings, dropFolder: String, store: Store, logger: Logger) {
        self.settings = settings
        self.dropFolder = dropFolder
        self.store = store
        self.logger = logger
    }

    func eventFileBegins(silverLast: Int64, expectedEvents: Int64, _ db: Database) throws {}
    func eventRowsInserted(_ lines: [ParsedLine], inserted: [Bool]) {}
    func fileRolledBack() {}
    func fileCommitted() {}

    var followsSettledFiles: Bool { settings.mode != .keep }

    func fileSettled(_ candidate: Candidate, _ entry: LedgerSettlement) {
        guard let destination = settings.destination(for: entry.state), let fileId = entry.fileId else {
            return
        }
        let log = logger.with(["file": "\(candidate.name)", "state": "\(entry.state.rawValue)"])
        do {
            // Still the file the ledger settled? (Gone: nothing to do. New bytes: a new
            // version, which the next pass loads before it goes.)
            guard let now = DropFolder.restat(candidate), entry.settles(now) else { return }
            try store.syncCommitted()
            FaultInjection.reach(.beforeMove)
            let source = candidate.entryBytes
            var target: String?
            if let folder = settings.folder(of: destination) {
                let moved = try SourceMover.move(
                    source, into: folder, relative: relativeName(candidate),
                    extensionLength: FileClassifier.kindExtensionLength(candidate.name))
                target = DropFolder.displayName(moved)
            } else {
                try SourceMover.delete(source)
            }
            try store.pool.write { db in
                try Ledger.recordDisposal(fileId: fileId, destination, path: target, at: Date(), db)
            }
            failures.withLock { $0[candidate.name] = nil }
            if let target {
                log.info(
                    "file moved to \(target)",
                    metadata: LogEventKind.fileMoved.metadata([
                        "to": "\(target)", "destination": "\(destination.rawValue)",
                    ]))
            } else {
                log.info("file deleted", metadata: LogEventKind.fileDeleted.metadata())
            }
        } catch {
            let message = "\(error)"
            let first = failures.withLock { known in
                defer { known[candidate.name] = message }
                return known[candidate.name] != message
            }
            let metadata = LogEventKind.fileMoveFailed.metadata([
                "error": "\(message)", "destination": "\(destination.rawValue)",
            ])
            let text =
                "file loaded but not \(destination == .deleted ? "deleted" : "moved"), tried again at the next pass: \(message)"
            if first {
                log.warning("\(text)", metadata: metadata)
            } else {
                log.debug("\(text)", metadata: metadata)
            }
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
