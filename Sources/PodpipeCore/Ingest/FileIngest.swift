import Foundation
import PodpipeRules

/// What the per-file procedure decided for one file.
enum FileDecision: String, Sendable, Codable, Equatable {
    /// Its rows went to bronze and (the valid ones) to silver; some may be rejected.
    case loaded
    /// The whole file is unusable (empty, binary, not one line of JSON, a bad header…).
    case rejected
    /// The same bytes as another file of the ledger (or earlier in a dry run): not loaded.
    case duplicate
    /// This very file (same name, same bytes) is already recorded: nothing to do.
    case unchanged

    /// The ledger state the decision records; nil for `unchanged` (nothing is recorded).
    var ledgerState: LedgerState? {
        switch self {
        case .loaded: .loaded
        case .rejected: .rejected
        case .duplicate: .duplicate
        case .unchanged: nil
        }
    }
}

/// Bytes the ledger already holds, found by their SHA-256.
enum KnownBytes {
    /// A loaded or rejected ledger entry.
    case ledger(LedgerEntry)
    /// A file given earlier in the same dry run (it is not in the ledger).
    case earlierInRun(name: String)
    /// A loaded or rejected ledger entry of another drop folder (another host's, on a shared
    /// PostgreSQL database): a duplicate whatever its name, since names are per folder.
    case elsewhere(LedgerEntry)
}

/// A file's ledger row as the procedure starts it: its id, the attempt number, and the
/// newest earlier entry under its name that did not fail (for the new-version rule).
struct LedgerClaim {
    var fileId: Int64
    var attempts: Int64
    var previous: LedgerEntry?
}

/// What the per-file procedure needs of a store, inside the file's transaction: the ledger
/// and the file's rows. Two implementations over the same procedure:
/// ``LiveIngestSession`` (what podpiped records, `ingest_file` through ``Ledger``) and
/// ``DryRunIngestSession`` (`podpipectl validate`: rows into TEMP twins, nothing recorded).
protocol IngestSession {
    /// Starts the file's ledger entry (the live one inserts it: the row is the claim).
    mutating func claim(_ entry: LedgerEntry) throws -> LedgerClaim
    /// Whether a loaded or rejected file of `kind` other than `fileId` has exactly `size`
    /// bytes.
    func hasFile(ofSize size: Int64, kind: FileKind, other fileId: Int64) throws -> Bool
    /// The file already holding these bytes read as `kind`, other than `fileId`.
    func knownBytes(sha256: String, kind: FileKind, other fileId: Int64) throws -> KnownBytes?
    /// This file's bytes are already recorded under its own name: forget the new entry and
    /// note the new timestamp on the original.
    mutating func settleUnchanged(_ entry: LedgerEntry, original: LedgerEntry) throws
    /// The file's final ledger entry (loaded, rejected or duplicate).
    mutating func record(_ entry: LedgerEntry) throws

    /// The file's rows (of `kind`) are written between `beginRows` and `keepRows`; `undoRows`
    /// takes back those written since `beginRows` (it may be called more than once before
    /// `keepRows`).
    mutating func beginRows(_ kind: FileKind) throws
    mutating func undoRows() throws
    mutating func keepRows() throws
    /// Loads the file's rows into bronze and silver by its kind; `place`: the file's place
    /// in the file order, which decides what its reference rows replace (``ReferenceOrder``).
    func loadRows(
        _ kind: FileKind, source: ChunkSource, fileId: Int64, place: ReferencePlace, rules: FileRules
    ) throws -> FileLoadCounts

    /// Where the rows of the loaded reference file `fileId` stand in the reference order:
    /// the newest delivery of its bytes (``ReferenceOrder``); nil when it is not one.
    func referencePlace(ofFile fileId: Int64) throws -> ReferencePlace?
    /// A delivery moved the bytes of the loaded reference file `fileId` later in the order:
    /// its rows move to `place` and win where they are now the latest.
    mutating func placeReferenceRows(_ kind: FileKind, ofFile fileId: Int64, at place: ReferencePlace)
        throws
}

/// The rules a file is loaded with.
struct FileRules: Sendable {
    var validator: EventValidator
    var maxLineBytes: Int
    var shouldStop: @Sendable () -> Bool
    /// Where the parse of a file begun before its turn waits (podpiped's passes; nil: none).
    var ahead: ParseAhead? = nil
    /// Told when this file's parser has read the whole file (it begins the next file's parse).
    var parsed: (@Sendable () -> Void)? = nil
    /// This file's parse, taken from ``ahead`` by ``FileIngest`` for the loaders.
    var started: EventParse? = nil
}

/// The result of the per-file procedure.
struct FileIngestResult {
    var decision: FileDecision
    /// The file's ledger entry as recorded (for `unchanged`: the new entry, not recorded).
    var entry: LedgerEntry
    var counts: FileLoadCounts
    var message: String?
    /// For `unchanged`: the ledger entry that already holds these bytes under this name.
    var original: LedgerEntry? = nil
}

/// The per-file procedure, written once (SPEC §3): open, settle known bytes cheaply, load
/// the rows so that they can be taken back, then decide loaded / rejected / duplicate / unchanged. The
/// same code serves `podpiped` and `podpipectl validate`; only the ``IngestSession`` differs.
///
/// Transient failures (I/O, database, a file that changed while read) are thrown: nothing of
/// the file is kept, and the caller records `failed` (podpiped retries with backoff) or
/// reports it (the dry run). Permanent read errors (a link leaving the folder, a FIFO, an
/// unreadable stream) reject the file.
struct FileIngest {
    var rules: FileRules

    func run<Session: IngestSession>(
        _ candidate: Candidate, started: Date, session: inout Session
    ) throws -> FileIngestResult {
        let startedText = ISOTime.format(started)
        var entry = LedgerEntry(
            fileId: nil, name: candidate.name, kind: candidate.kind, sha256: "",
            sizeBytes: candidate.size, mtime: ISOTime.format(nanoseconds: candidate.mtimeNs),
            mtimeNs: candidate.mtimeNs, state: .loaded, startedAt: startedText,
            finishedAt: startedText, changeNs: candidate.changeNs, inode: candidate.inode)
        let claim = try session.claim(entry)
        entry.fileId = claim.fileId
        entry.attempts = claim.attempts
        let fileId = claim.fileId

        // A parse begun before the file's turn reads the file through its own source; on every
        // way out it is stopped (a file settled without its rows never reads it).
        var rules = self.rules
        rules.started = rules.ahead?.take(candidate)
        defer { rules.started?.stop() }
        let source: ChunkSource
        do {
            source = try rules.started?.source ?? ChunkSource(candidate)
        } catch let error as ReadError where error.isPermanent {
            // Never readable: identified by its name, since its bytes are not to be read.
            entry.sha256 = "unreadable:" + candidate.name
            return try finish(
                entry, .rejected, counts: FileLoadCounts(), message: error.description,
                started: started, session: &session)
        }
        // Bytes the ledger may already know (a touched file, a renamed or copied one): the
        // same size as a recorded file. Hash them first (one read) so that known bytes are
        // settled without parsing and inserting every row only to roll them back.
        if try session.hasFile(ofSize: candidate.size, kind: candidate.kind, other: fileId) {
            let digest = try ChunkSource(path: candidate.path, rawPath: candidate.rawPath, gzip: false)
            try digest.drain()
            if digest.bytesRead == candidate.size,
                let known = try session.knownBytes(
                    sha256: digest.digestHex(), kind: candidate.kind, other: fileId)
            {
                entry.sha256 = digest.digestHex()
                entry.sizeBytes = digest.bytesRead
                return try settle(entry, known: known, started: started, session: &session)
            }
        }

        try session.beginRows(candidate.kind)
        var counts = FileLoadCounts()
        var rejection: FileRejection?
        do {
            counts = try session.loadRows(
                candidate.kind, source: source, fileId: fileId, place: ReferencePlace(candidate), rules: rules
            )
            rejection = counts.rejection
        } catch let error as FileRejection {
            rejection = error
        } catch let error as ReadError where error.isPermanent {
            rejection = .unreadable(error.description)
        }
        if let rejection, counts.rejection != rejection {
            // The rows of a file rejected midway are not kept.
            try session.undoRows()
            counts = FileLoadCounts()
        }
        // The rest of the file, for its digest (a file rejected midway was not read to its end).
        do {
            try source.drain()
        } catch let error as ReadError where error.isPermanent {
            try session.undoRows()
            try session.keepRows()
            entry.sha256 = "unreadable:" + candidate.name
            return try finish(
                entry, .rejected, counts: FileLoadCounts(), message: error.description,
                started: started, session: &session)
        }
        let size = source.currentSize()
        if size != source.bytesRead {
            throw ReadError.changedWhileReading(
                path: candidate.path, expected: source.bytesRead, now: size)
        }
        entry.sha256 = source.digestHex()
        entry.sizeBytes = source.bytesRead

        if let known = try session.knownBytes(sha256: entry.sha256, kind: candidate.kind, other: fileId) {
            try session.undoRows()
            try session.keepRows()
            return try settle(entry, known: known, started: started, session: &session)
        }
        try session.keepRows()
        var notes: [String] = []
        if let previous = claim.previous, previous.sha256 != entry.sha256 {
            entry.previousVersion = previous.fileId
            notes.append(
                LedgerMessage.newVersion(of: candidate.name, kind: candidate.kind, previous: previous))
        }
        if let rejection {
            notes.insert(rejection.message, at: 0)
            return try finish(
                entry, .rejected, counts: counts, message: notes.joined(separator: "; "),
                started: started, session: &session)
        }
        if counts.rowsRejected > 0, notes.isEmpty {
            notes.append(LedgerMessage.rowsRejected(counts))
        }
        let loaded = try finish(
            entry, .loaded, counts: counts, message: notes.isEmpty ? nil : notes.joined(separator: "; "),
            started: started, session: &session)
        // Its rows went in at the file's own place; copies of its bytes recorded earlier (the
        // file was forgotten by `reprocess` and is loaded again) may put them later.
        try followDelivery(
            candidate.kind, ofFile: fileId, before: ReferencePlace(candidate), session: &session)
        return loaded
    }

    /// Reference files: after a decision that may have added a delivery of the loaded file
    /// `fileId`'s bytes (its own load, a copy of it, the file seen again with a newer time),
    /// moves its rows to their place when that is now later than `before` (``ReferenceOrder``:
    /// a re-delivery counts as the newest delivery of those rows; nothing is loaded twice).
    private func followDelivery<Session: IngestSession>(
        _ kind: FileKind, ofFile fileId: Int64?, before: ReferencePlace?, session: inout Session
    ) throws {
        guard kind != .events, let fileId, let before,
            let place = try session.referencePlace(ofFile: fileId), before < place
        else { return }
        try session.placeReferenceRows(kind, ofFile: fileId, at: place)
    }

    /// Where a loaded reference file's rows stand before a delivery of its bytes is recorded.
    private func referencePlace<Session: IngestSession>(of original: LedgerEntry, _ session: Session)
        throws -> ReferencePlace?
    {
        guard original.kind != .events, original.state == .loaded, let fileId = original.fileId else {
            return nil
        }
        return try session.referencePlace(ofFile: fileId)
    }

    /// A file whose bytes are already held: under the same name only its timestamp moved
    /// (`unchanged`), under another name it is a `duplicate`. No rows are loaded.
    private func settle<Session: IngestSession>(
        _ entry: LedgerEntry, known: KnownBytes, started: Date, session: inout Session
    ) throws -> FileIngestResult {
        var entry = entry
        switch known {
        case .ledger(let original) where Ledger.nameKey(original.name) == Ledger.nameKey(entry.name):
            let before = try referencePlace(of: original, session)
            try session.settleUnchanged(entry, original: original)
            try followDelivery(entry.kind, ofFile: original.fileId, before: before, session: &session)
            return FileIngestResult(
                decision: .unchanged, entry: entry, counts: FileLoadCounts(),
                message: LedgerMessage.unchanged(original), original: original)
        case .ledger(let original), .elsewhere(let original):
            entry.duplicateOf = original.fileId
            let before = try referencePlace(of: original, session)
            let result = try finish(
                entry, .duplicate, counts: FileLoadCounts(),
                message: LedgerMessage.duplicate(of: original), started: started, session: &session)
            try followDelivery(entry.kind, ofFile: original.fileId, before: before, session: &session)
            return result
        case .earlierInRun(let name):
            return try finish(
                entry, .duplicate, counts: FileLoadCounts(),
                message: LedgerMessage.duplicateInRun(of: name), started: started, session: &session)
        }
    }

    private func finish<Session: IngestSession>(
        _ entry: LedgerEntry, _ decision: FileDecision, counts: FileLoadCounts, message: String?,
        started: Date, session: inout Session
    ) throws -> FileIngestResult {
        var entry = entry
        let finished = Date()
        entry.state = decision.ledgerState ?? .loaded
        entry.rowsRead = counts.rowsRead
        entry.rowsLoaded = counts.rowsLoaded
        entry.rowsRejected = counts.rowsRejected
        entry.rowsDuplicate = counts.rowsDuplicate
        entry.bronzeFirstId = counts.bronzeIds?.lowerBound
        entry.bronzeLastId = counts.bronzeIds?.upperBound
        entry.firstError = counts.firstError ?? (decision == .rejected ? message : nil)
        entry.firstErrorLine = counts.firstErrorLine
        entry.message = message
        entry.finishedAt = ISOTime.format(finished)
        entry.durationMs = ISOTime.milliseconds(from: started, to: finished)
        try session.record(entry)
        return FileIngestResult(decision: decision, entry: entry, counts: counts, message: message)
    }
}

/// The texts of the ledger's `message` column, in one place (the live ingest, the dry run
/// and `revalidate` write them).
enum LedgerMessage {
    static func rowsRejected(_ counts: FileLoadCounts) -> String {
        "\(counts.rowsRejected) row(s) rejected; first: line \(counts.firstErrorLine ?? 0): \(counts.firstError ?? "")"
    }

    /// Whether `message` is one ``rowsRejected(_:)`` wrote (revalidate rewrites those).
    static func isRowsRejected(_ message: String?) -> Bool {
        message?.contains("row(s) rejected; first: line") == true
    }

    static func newVersion(of name: String, kind: FileKind, previous: LedgerEntry) -> String {
        kind == .events
            ? "new version of \(name) (previous: file \(previous.fileId ?? 0)); loaded, its events de-duplicated against the earlier version"
            : "new version of \(name) (previous: file \(previous.fileId ?? 0)); its rows update the earlier ones (the row latest in file order wins)"
    }

    static func duplicate(of original: LedgerEntry) -> String {
        "same bytes as \(original.name) (file \(original.fileId ?? 0), \(original.state.rawValue)); not loaded again"
    }

    static func duplicateInRun(of name: String) -> String {
        "same bytes as \(name) given earlier in this run; loaded once"
    }

    static func unchanged(_ original: LedgerEntry) -> String {
        "already in the ledger as file \(original.fileId ?? 0) (\(original.state.rawValue), \(original.finishedAt)): skipped"
    }
}

extension ReferencePlace {
    /// A file's own place in the file order: its modification time and name.
    init(_ candidate: Candidate) {
        self.init(mtimeNs: candidate.mtimeNs, name: candidate.name)
    }
}

extension ChunkSource {
    /// Opens a drop-folder candidate: by its raw bytes when its name is not UTF-8; a link
    /// that leaves the folder is refused without being opened (a permanent error: the file
    /// is recorded `rejected`).
    convenience init(_ candidate: Candidate) throws {
        if let target = candidate.linkLeavingFolder {
            throw ReadError.linkLeavesFolder(path: candidate.path, target: target)
        }
        try self.init(path: candidate.path, rawPath: candidate.rawPath, gzip: candidate.gzip)
    }
}
