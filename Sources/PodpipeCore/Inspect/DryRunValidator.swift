import Foundation
import GRDB
import PodpipeRules

#if canImport(Glibc)
    import Glibc
#endif

/// What a dry run found for one file: what `podpiped` would record and why.
struct DryRunFile: Sendable, Codable, Equatable {
    /// The path as given.
    var path: String
    /// The name the drop folder would know it by (the path's last component).
    var name: String
    /// `events`, `episodes`, `users`; nil when the name is not an input kind.
    var kind: String?
    /// What podpiped would do with it.
    var outcome: DryRunOutcome
    var message: String?
    var sha256: String?
    var sizeBytes: Int64
    var rowsRead: Int64 = 0
    var rowsLoaded: Int64 = 0
    var rowsRejected: Int64 = 0
    var rowsDuplicate: Int64 = 0
    var firstError: String?
    var firstErrorLine: Int64?
    /// Rejected rows per code (a row with several codes counts under each).
    var codeCounts: [String: Int] = [:]
    /// Reference files: ids the file would add to silver, and existing ids it would change.
    var referenceAdded: Int?
    var referenceChanged: Int?
    /// The first rejected rows (at most the run's `sampleLimit`).
    var rejects: [DryRunReject] = []
}

/// What `podpipectl validate` says podpiped would do with a file.
enum DryRunOutcome: String, Sendable, Codable, Equatable {
    /// Loaded (possibly with rejected rows).
    case loaded
    /// The whole file is unusable.
    case rejected
    /// The same bytes as a file in the ledger or earlier in this run.
    case duplicate
    /// This very file is already in the ledger: podpiped skips it.
    case unchanged
    /// Not an input name (or not a regular file).
    case ignored
    /// An I/O error: podpiped would retry.
    case failed

    init(_ decision: FileDecision) {
        switch decision {
        case .loaded: self = .loaded
        case .rejected: self = .rejected
        case .duplicate: self = .duplicate
        case .unchanged: self = .unchanged
        }
    }
}

/// One rejected row of a dry run.
struct DryRunReject: Sendable, Codable, Equatable {
    var line: Int64
    var codes: String
    var raw: String
}

/// The result of `podpipectl validate`.
public struct DryRunReport: Sendable, Codable, Equatable {
    /// The database compared against (duplicates, ledger), or nil when there is none.
    var database: String?
    /// The files in the order podpiped would process them (modification time, then name),
    /// then those it would not ingest (ignored, unreadable).
    var files: [DryRunFile]

    /// True when every file would be loaded (rows may be rejected), or is unchanged or a
    /// duplicate; false when one would be rejected, ignored or fail.
    public var allFilesUsable: Bool {
        files.allSatisfy { [.loaded, .duplicate, .unchanged].contains($0.outcome) }
    }

    /// True when some row or file would be rejected.
    public var anyRejection: Bool {
        !allFilesUsable || files.contains { $0.rowsRejected > 0 }
    }

    /// One JSON object (snake_case keys), for scripts.
    public func json() -> String { JSONText.snakeCase(self) }

    /// The human-readable report: one block per file, then a total.
    public func text() -> String {
        // Paths, messages and raw lines come from input: escaped (TerminalText).
        var out = ""
        for file in files {
            out += "\(TerminalText.escape(file.path))\n"
            let kind = file.kind.map { "\($0), " } ?? ""
            out += "  would be  \(file.outcome.rawValue) (\(kind)\(file.sizeBytes) bytes)\n"
            if let message = file.message { out += "  note      \(TerminalText.escape(message))\n" }
            if file.outcome == .loaded || (file.outcome == .rejected && file.rowsRead > 0) {
                out +=
                    "  rows      \(file.rowsRead) read · \(file.rowsLoaded) to silver · \(file.rowsRejected) rejected · \(file.rowsDuplicate) duplicate\n"
            }
            if let added = file.referenceAdded, let changed = file.referenceChanged {
                out += "  silver    \(added) new id(s) · \(changed) existing id(s) changed\n"
            }
            if !file.codeCounts.isEmpty {
                let counts = file.codeCounts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }
                out += "  codes     " + counts.map { "\($0.key) \($0.value)" }.joined(separator: " · ") + "\n"
            }
            if !file.rejects.isEmpty {
                let width = String(file.rejects.map(\.line).max() ?? 0).count
                let codesWidth = file.rejects.map(\.codes.count).max() ?? 0
                let shown = file.rejects.count < file.rowsRejected ? " (first \(file.rejects.count))" : ""
                out += "  rejected rows\(shown):\n"
                for reject in file.rejects {
                    let line = String(reject.line)
                    let pad = String(repeating: " ", count: max(0, width - line.count))
                    let codes = reject.codes.padding(toLength: codesWidth, withPad: " ", startingAt: 0)
                    out +=
                        "    line \(pad)\(line)  \(TerminalText.escape(codes))  \(TerminalText.escape(TerminalText.clip(reject.raw, 100)))\n"
                }
            }
        }
        let loaded = files.filter { $0.outcome == .loaded }.count
        let rows = files.reduce(Int64(0)) { $0 + $1.rowsLoaded }
        let rejectedRows = files.reduce(Int64(0)) { $0 + $1.rowsRejected }
        let duplicates = files.reduce(Int64(0)) { $0 + $1.rowsDuplicate }
        out +=
            "\(files.count) file(s): \(loaded) would load · \(rows) row(s) to silver · \(rejectedRows) rejected · \(duplicates) duplicate"
        out +=
            database.map { " (compared with \($0); nothing was written)\n" }
            ?? " (no database to compare with; nothing was written)\n"
        return out
    }
}

/// The dry run of `podpipectl validate`: loads files with the real readers, rules and
/// loaders, against the real database opened read-only, so it reports exactly what
/// `podpiped` would do — including duplicates of events already in silver and files whose
/// bytes are already in the ledger — and writes nothing: the loaders' rows go to TEMP
/// tables (`SQL/inspect/dry_run_shadow.sql`) private to the connection.
public struct DryRunValidator: Sendable {
    /// The database to compare with; nil or a missing file: compare with nothing.
    var database: String?
    var futureSkewSeconds: Int64
    var maxLineBytes: Int
    /// Rejected rows listed per file.
    var sampleLimit: Int
    /// Treat every file as this kind instead of deciding from its name.
    var kind: FileKind?
    /// The validator's "now" (timestamp_in_future).
    var now: Date
    /// The drop folder the files would be in: on PostgreSQL, ledger names are per (host,
    /// drop folder) (``LedgerScope``), as podpiped on this host records them.
    var dataLoad: String

    public init(
        database: String?, futureSkewSeconds: Int64 = 300, maxLineBytes: Int = 32 << 20,
        sampleLimit: Int = 20, kind: FileKind? = nil, now: Date = Date(), dataLoad: String = ""
    ) {
        self.database = database
        self.dataLoad = dataLoad
        self.futureSkewSeconds = futureSkewSeconds
        self.maxLineBytes = maxLineBytes
        self.sampleLimit = sampleLimit
        self.kind = kind
        self.now = now
    }

    /// The validator of `podpipectl validate`: the configuration's database, rules and drop
    /// folder.
    public init(config: PodpipeConfig, sampleLimit: Int, kind: FileKind?) {
        self.init(
            database: config.database, futureSkewSeconds: config.futureSkew,
            maxLineBytes: config.maxLineBytes, sampleLimit: sampleLimit, kind: kind,
            dataLoad: config.dataLoad)
    }

    /// Validates `paths` as if they were dropped into the folder together.
    ///
    /// - Throws: `StoreError` when the database exists but cannot be opened (or is from a
    ///   newer version), `DatabaseError` on a database failure. Problems with a file are
    ///   reported in its ``DryRunFile``, not thrown.
    func run(paths: [String]) throws -> DryRunReport {
        try run(rawPaths: paths.map { Array($0.utf8) })
    }

    /// Validates paths given as bytes: a file name need not be UTF-8 (Linux names are
    /// bytes). Such a path is shown with each invalid byte as `\xNN`, as in the ledger, and
    /// opened by its bytes.
    public func run(rawPaths: [[UInt8]]) throws -> DryRunReport {
        var files: [DryRunFile] = []
        var skipped: [DryRunFile] = []
        var candidates: [(file: DryRunFile, candidate: Candidate)] = []
        for rawPath in rawPaths {
            let path = DropFolder.displayName(rawPath)
            switch classify(rawPath) {
            case .candidate(let candidate):
                candidates.append(
                    (
                        DryRunFile(
                            path: path, name: candidate.name, kind: candidate.kind.rawValue,
                            outcome: .loaded, sizeBytes: candidate.size), candidate
                    ))
            case .skipped(let file):
                skipped.append(file)
            }
        }
        // podpiped's order: oldest first (modification time, then name in byte order).
        candidates.sort { a, b in
            if a.candidate.mtimeNs != b.candidate.mtimeNs {
                return a.candidate.mtimeNs < b.candidate.mtimeNs
            }
            return Array(a.candidate.name.utf8).lexicographicallyPrecedes(Array(b.candidate.name.utf8))
        }
        if let database, case .postgresql(let uri) = DatabaseLocation(database) {
            let connection = try PostgresConnection(uri: uri)
            files = try PostgresDryRun.run(connection, scope: scope()) { session in
                try candidates.map { item in
                    var file = item.file
                    try load(item.candidate, into: &file, session: &session)
                    return file
                }
            }
            return DryRunReport(database: connection.location, files: files + skipped)
        }
        let (queue, compared) = try openDatabase()
        try queue.inDatabase { db in
            try db.execute(sql: try SQLResource.load("inspect", "dry_run_shadow"))
            var session = DryRunIngestSession(db: db)
            for item in candidates {
                var file = item.file
                try load(item.candidate, into: &file, session: &session)
                files.append(file)
            }
        }
        return DryRunReport(database: compared, files: files + skipped)
    }

    /// This host's names in the ledger of a shared database (its drop folder).
    func scope() -> LedgerScope {
        LedgerScope(host: DaemonLiveness.hostName(), dataLoad: dataLoad)
    }

    // MARK: - Steps

    /// A read-only connection to the database, or an empty in-memory one with the schema.
    func openDatabase() throws -> (DatabaseQueue, String?) {
        if let database, FileManager.default.fileExists(atPath: database) {
            // The same checks as every read-only command (missing, newer schema…).
            _ = try Store.openForReading(path: database)
            var config = Configuration()
            config.readonly = true
            config.busyMode = .timeout(5)
            return (try DatabaseQueue(path: database, configuration: config), database)
        }
        let queue = try DatabaseQueue()
        try Migrations.migrator.migrate(queue)
        return (queue, nil)
    }

    /// A path as the drop folder would see it.
    enum Classified {
        case candidate(Candidate)
        /// Not ingested (ignored, unreadable): the file's result as it stands.
        case skipped(DryRunFile)
    }

    /// The file as the drop folder would see it, or why it would not be ingested. The path
    /// is given as bytes: a name need not be UTF-8.
    func classify(_ rawPath: [UInt8]) -> Classified {
        let path = DropFolder.displayName(rawPath)
        let lastSlash = rawPath.lastIndex(of: UInt8(ascii: "/")).map { $0 + 1 } ?? 0
        let name = DropFolder.displayName(Array(rawPath[lastSlash...]))
        let cPath = rawPath.map { CChar(bitPattern: $0) } + [0]
        var file = DryRunFile(path: path, name: name, outcome: .ignored, sizeBytes: 0)
        var st = stat()
        guard stat(cPath, &st) == 0 else {
            file.outcome = .failed
            file.message =
                InspectError.unreadable(path: path, reason: String(cString: strerror(errno))).description
            return .skipped(file)
        }
        file.sizeBytes = Int64(st.st_size)
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            file.message = "not a regular file (directory, FIFO or device): podpiped ignores it"
            return .skipped(file)
        }
        if let database, DatabaseFile.identities(of: database).contains(FileIdentity(st)) {
            file.message = "the podpipe database itself (or one of its files): never ingested"
            return .skipped(file)
        }
        let kind: FileKind
        var gzip = name.lowercased().hasSuffix(".gz")
        if let forced = self.kind {
            kind = forced
        } else {
            switch FileClassifier.classify(name) {
            case .ignored(let reason):
                file.message = "\(reason); podpiped ignores it (use --kind to validate it anyway)"
                return .skipped(file)
            case .ingest(let found, let isGzip):
                kind = found
                gzip = isGzip
            }
        }
        // The user named this file: follow a link here (podpiped checks links itself).
        let resolved = DropFolder.realPathBytes(cPath) ?? rawPath
        let resolvedText = DropFolder.displayName(resolved)
        return .candidate(
            Candidate(
                name: name, path: resolvedText, kind: kind, gzip: gzip, size: Int64(st.st_size),
                mtimeNs: FileTime.modification(st),
                rawPath: resolvedText.utf8.elementsEqual(resolved) ? nil : resolved))
    }

    /// Runs the per-file procedure podpiped runs (``FileIngest``) over the dry-run session:
    /// the rows go to the TEMP tables, the ledger is only read.
    func load<Session: DryRunSession>(
        _ candidate: Candidate, into file: inout DryRunFile, session: inout Session
    )
        throws
    {
        let procedure = FileIngest(
            rules: FileRules(
                validator: EventValidator(
                    now: Int64(now.timeIntervalSince1970), allowedFutureSkewSeconds: futureSkewSeconds),
                maxLineBytes: maxLineBytes, shouldStop: { false }))
        let result: FileIngestResult
        try session.execute("SAVEPOINT dry_run_file")
        do {
            result = try procedure.run(candidate, started: Date(), session: &session)
            try session.execute("RELEASE dry_run_file")
        } catch let error as ReadError {
            // podpiped records these `failed` and retries (nothing of the file is kept).
            try session.execute("ROLLBACK TO dry_run_file; RELEASE dry_run_file")
            file.outcome = .failed
            file.message = error.description
            return
        }
        file.outcome = DryRunOutcome(result.decision)
        file.message = result.message
        // A file whose bytes could not be read has no digest (the ledger names it instead).
        file.sha256 = result.entry.sha256.hasPrefix("unreadable:") ? nil : result.entry.sha256
        file.sizeBytes = result.entry.sizeBytes
        guard result.decision == .loaded || result.decision == .rejected else { return }
        file.rowsRead = result.counts.rowsRead
        file.rowsLoaded = result.counts.rowsLoaded
        file.rowsRejected = result.counts.rowsRejected
        file.rowsDuplicate = result.counts.rowsDuplicate
        file.firstError = result.entry.firstError
        file.firstErrorLine = result.counts.firstErrorLine
        let fileId = result.entry.fileId ?? 0
        try collectRejects(fileId: fileId, kind: candidate.kind, into: &file, session: session)
        if candidate.kind != .events && result.decision == .loaded {
            let queries = session.queries
            if let row = try queries.table(
                ReferenceOrder.expand(
                    try queries.resource("inspect", "dry_run_reference_changes"), new: "t", old: "m"),
                [.integer(fileId)]
            ).rows.first, row.count == 2 {
                file.referenceAdded = row[0].int64Value.map { Int(clamping: $0) }
                file.referenceChanged = row[1].int64Value.map { Int(clamping: $0) }
            }
        }
    }

    /// Code counts and the first rejected rows of the file, from the bronze rows the dry run
    /// wrote (SQLite: the TEMP twins; PostgreSQL: the tables, in the transaction).
    func collectRejects<Session: DryRunSession>(
        fileId: Int64, kind: FileKind, into file: inout DryRunFile, session: Session
    ) throws {
        let table = kind == .events ? session.bronzeTables.events : session.bronzeTables.reference
        let queries = session.queries
        let lists = try queries.table(
            "SELECT error_codes, count(*) AS n FROM \(table) WHERE file_id = $1 AND outcome = 'rejected' GROUP BY error_codes",
            [.integer(fileId)])
        var counts: [String: Int] = [:]
        for row in lists.rows where row.count == 2 {
            let codes = row[0].stringValue ?? ""
            let n = Int(clamping: row[1].int64Value ?? 0)
            for code in codes.split(separator: ",") { counts[String(code), default: 0] += n }
        }
        file.codeCounts = counts
        guard sampleLimit > 0 else { return }
        file.rejects = try queries.table(
            "SELECT line_no, error_codes, raw FROM \(table) WHERE file_id = $1 AND outcome = 'rejected' ORDER BY line_no LIMIT $2",
            [.integer(fileId), .integer(Int64(sampleLimit))]
        ).rows.map { row in
            DryRunReject(
                line: row.first?.int64Value ?? 0, codes: row.count > 1 ? row[1].stringValue ?? "" : "",
                raw: row.count > 2 ? row[2].stringValue ?? "" : "")
        }
    }
}

/// What the dry run needs of a store besides the per-file procedure's session: savepoints
/// around a file, SELECTs over the rows the run wrote (the read seam), and where its bronze
/// rows are. SQLite's is ``DryRunIngestSession`` (TEMP twins), PostgreSQL's
/// ``PostgresDryRunIngestSession`` (the real tables in a transaction that is rolled back).
protocol DryRunSession: IngestSession {
    func execute(_ sql: String) throws
    var queries: any QueryRunner { get }
    var bronzeTables: (events: String, reference: String) { get }
}

/// What a dry run remembers of its own files, which it never records in the ledger: ids
/// (negative, never a real file's) and the bytes of those it would record, so that a later
/// copy in the same run is a duplicate, as it would be in podpiped.
struct DryRunMemory {
    private var nextFileId: Int64 = 0
    /// The files recorded earlier in this run: their bytes as a kind → name.
    private var seen: [SeenKey: String] = [:]

    private struct SeenKey: Hashable {
        var sha256: String
        var kind: FileKind
    }

    mutating func newFileId() -> Int64 {
        nextFileId -= 1
        return nextFileId
    }

    func earlier(sha256: String, kind: FileKind) -> KnownBytes? {
        seen[SeenKey(sha256: sha256, kind: kind)].map { .earlierInRun(name: $0) }
    }

    mutating func remember(_ entry: LedgerEntry) {
        if entry.state == .loaded || entry.state == .rejected {
            seen[SeenKey(sha256: entry.sha256, kind: entry.kind)] = entry.name
        }
    }
}

/// The per-file procedure's store in a dry run: the file's rows go to the connection's
/// TEMP twins of the tables, the ledger is read and never written; files of the run get
/// negative ids, and their digests are remembered so a later copy in the same run is a
/// duplicate, as it would be in podpiped (``DryRunMemory``).
struct DryRunIngestSession: DryRunSession {
    let db: Database
    private var memory = DryRunMemory()

    init(db: Database) {
        self.db = db
    }

    func execute(_ sql: String) throws { try db.execute(sql: sql) }
    var queries: any QueryRunner { SQLiteQueries(db: db) }
    var bronzeTables: (events: String, reference: String) { ("temp.bronze_event", "temp.bronze_reference") }

    mutating func claim(_ entry: LedgerEntry) throws -> LedgerClaim {
        LedgerClaim(
            fileId: memory.newFileId(), attempts: 1, previous: try Ledger.latestSettled(named: entry.name, db)
        )
    }

    func hasFile(ofSize size: Int64, kind: FileKind, other fileId: Int64) throws -> Bool {
        try Ledger.hasFile(ofSize: size, kind: kind, other: fileId, db)
    }

    func knownBytes(sha256: String, kind: FileKind, other fileId: Int64) throws -> KnownBytes? {
        if let original = try Ledger.original(withSHA256: sha256, kind: kind, db) {
            return .ledger(original)
        }
        return memory.earlier(sha256: sha256, kind: kind)
    }

    mutating func settleUnchanged(_ entry: LedgerEntry, original: LedgerEntry) throws {}

    mutating func record(_ entry: LedgerEntry) throws {
        memory.remember(entry)
    }

    func beginRows(_ kind: FileKind) throws { try db.execute(sql: "SAVEPOINT dry_run_rows") }
    func undoRows() throws { try db.execute(sql: "ROLLBACK TO dry_run_rows") }
    func keepRows() throws { try db.execute(sql: "RELEASE dry_run_rows") }

    func loadRows(
        _ kind: FileKind, source: ChunkSource, fileId: Int64, place: ReferencePlace, rules: FileRules
    ) throws -> FileLoadCounts {
        try FileRowsLoader.load(
            kind, source: source, fileId: fileId, place: place, rules: rules, db: db, observer: nil)
    }

    func referencePlace(ofFile fileId: Int64) throws -> ReferencePlace? {
        try Ledger.referencePlaces(ofFile: fileId, db)[fileId]
    }

    /// Not reached: nothing is recorded in a dry run, so no delivery moves a file's place
    /// (a copy of a loaded file is reported `duplicate`; what its re-delivery would change
    /// in silver is not counted).
    mutating func placeReferenceRows(_ kind: FileKind, ofFile fileId: Int64, at place: ReferencePlace)
        throws
    {}
}

/// Helpers for text cells in terminal output.
enum TextCell {
    /// `text` on one line, cut to `width` characters with an ellipsis.
    static func clip(_ text: String, _ width: Int) -> String {
        let flat = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(
            of: "\n", with: " ")
        guard flat.count > width, width > 1 else { return flat }
        return String(flat.prefix(width - 1)) + "…"
    }
}
