import Foundation
import GRDB
import PodpipeRules

#if canImport(Glibc)
    import Glibc
#endif

/// What a dry run found for one file: what `podpiped` would record and why.
public struct DryRunFile: Sendable, Codable, Equatable {
    /// The path as given.
    public var path: String
    /// The name the drop folder would know it by (the path's last component).
    public var name: String
    /// `events`, `episodes`, `users`; nil when the name is not an input kind.
    public var kind: String?
    /// `loaded` (possibly with rejected rows), `rejected` (the whole file), `duplicate`
    /// (same bytes as a file in the ledger or earlier in this run), `unchanged` (this very
    /// file is already in the ledger: podpiped skips it), `ignored` (not an input name),
    /// `failed` (an I/O error: podpiped would retry).
    public var outcome: String
    public var message: String?
    public var sha256: String?
    public var sizeBytes: Int64
    public var rowsRead: Int64 = 0
    public var rowsLoaded: Int64 = 0
    public var rowsRejected: Int64 = 0
    public var rowsDuplicate: Int64 = 0
    public var firstError: String?
    public var firstErrorLine: Int64?
    /// Rejected rows per code (a row with several codes counts under each).
    public var codeCounts: [String: Int] = [:]
    /// Reference files: ids the file would add to silver, and existing ids it would change.
    public var referenceAdded: Int?
    public var referenceChanged: Int?
    /// The first rejected rows (at most the run's `sampleLimit`).
    public var rejects: [DryRunReject] = []
}

/// One rejected row of a dry run.
public struct DryRunReject: Sendable, Codable, Equatable {
    public var line: Int64
    public var codes: String
    public var raw: String
}

/// The result of `podpipectl validate`.
public struct DryRunReport: Sendable, Codable, Equatable {
    /// The database compared against (duplicates, ledger), or nil when there is none.
    public var database: String?
    /// The files in the order podpiped would process them (modification time, then name),
    /// then those it would not ingest (ignored, unreadable).
    public var files: [DryRunFile]

    /// True when every file would be loaded (rows may be rejected), or is unchanged or a
    /// duplicate; false when one would be rejected, ignored or fail.
    public var allFilesUsable: Bool {
        files.allSatisfy { ["loaded", "duplicate", "unchanged"].contains($0.outcome) }
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
            out += "  would be  \(file.outcome) (\(kind)\(file.sizeBytes) bytes)\n"
            if let message = file.message { out += "  note      \(TerminalText.escape(message))\n" }
            if file.outcome == "loaded" || (file.outcome == "rejected" && file.rowsRead > 0) {
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
        let loaded = files.filter { $0.outcome == "loaded" }.count
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
    public var database: String?
    public var futureSkewSeconds: Int64
    public var maxLineBytes: Int
    /// Rejected rows listed per file.
    public var sampleLimit: Int
    /// Treat every file as this kind instead of deciding from its name.
    public var kind: FileKind?
    /// The validator's "now" (timestamp_in_future).
    public var now: Date

    public init(
        database: String?, futureSkewSeconds: Int64 = 300, maxLineBytes: Int = 32 << 20,
        sampleLimit: Int = 20, kind: FileKind? = nil, now: Date = Date()
    ) {
        self.database = database
        self.futureSkewSeconds = futureSkewSeconds
        self.maxLineBytes = maxLineBytes
        self.sampleLimit = sampleLimit
        self.kind = kind
        self.now = now
    }

    /// Validates `paths` as if they were dropped into the folder together.
    ///
    /// - Throws: `StoreError` when the database exists but cannot be opened (or is from a
    ///   newer version), `DatabaseError` on a database failure. Problems with a file are
    ///   reported in its ``DryRunFile``, not thrown.
    public func run(paths: [String]) throws -> DryRunReport {
        try run(rawPaths: paths.map { Array($0.utf8) })
    }

    /// Validates paths given as bytes: a file name need not be UTF-8 (Linux names are
    /// bytes). Such a path is shown with each invalid byte as `\xNN`, as in the ledger, and
    /// opened by its bytes.
    public func run(rawPaths: [[UInt8]]) throws -> DryRunReport {
        let (queue, compared) = try openDatabase()
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
                            outcome: "loaded", sizeBytes: candidate.size), candidate
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
        try queue.inDatabase { db in
            try db.execute(sql: try SQLResource.load("inspect", "dry_run_shadow"))
            var seen: [String: String] = [:]  // sha256 → name, earlier in this run
            for (index, item) in candidates.enumerated() {
                var file = item.file
                try load(item.candidate, fileId: -Int64(index + 1), into: &file, seen: &seen, db: db)
                files.append(file)
            }
        }
        return DryRunReport(database: compared, files: files + skipped)
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
        var file = DryRunFile(path: path, name: name, outcome: "ignored", sizeBytes: 0)
        var st = stat()
        guard stat(cPath, &st) == 0 else {
            file.outcome = "failed"
            file.message =
                InspectError.unreadable(path: path, reason: String(cString: strerror(errno))).description
            return .skipped(file)
        }
        file.sizeBytes = Int64(st.st_size)
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            file.message = "not a regular file (directory, FIFO or device): podpiped ignores it"
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
                mtimeNs: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec),
                rawPath: resolvedText.utf8.elementsEqual(resolved) ? nil : resolved))
    }

    /// Runs the real loader for one file into the TEMP tables; mirrors
    /// `Pipeline.loadInTransaction` (rejection, duplicate and version rules).
    func load(
        _ candidate: Candidate, fileId: Int64, into file: inout DryRunFile,
        seen: inout [String: String], db: Database
    ) throws {
        let source: ChunkSource
        do {
            source = try ChunkSource(candidate)
        } catch let error as ReadError {
            file.outcome = error.isPermanent ? "rejected" : "failed"
            file.message = error.description
            return
        }
        try db.execute(sql: "SAVEPOINT dry_run_file")
        var counts = FileLoadCounts()
        var rejection: FileRejection?
        do {
            counts = try Pipeline.loadRows(
                candidate.kind, source: source, fileId: fileId, db: db,
                validator: EventValidator(
                    now: Int64(now.timeIntervalSince1970),
                    allowedFutureSkewSeconds: futureSkewSeconds),
                maxLineBytes: maxLineBytes, shouldStop: { false })
            rejection = counts.rejection
        } catch let error as FileRejection {
            rejection = error
        } catch let error as ReadError {
            try db.execute(sql: "ROLLBACK TO dry_run_file; RELEASE dry_run_file")
            file.outcome = error.isPermanent ? "rejected" : "failed"
            file.message = error.description
            return
        }
        if let rejection, !(counts.rejection == rejection) {
            try db.execute(sql: "ROLLBACK TO dry_run_file")
            counts = FileLoadCounts()
        }
        do {
            try source.drain()
        } catch let error as ReadError {
            try db.execute(sql: "ROLLBACK TO dry_run_file; RELEASE dry_run_file")
            file.outcome = error.isPermanent ? "rejected" : "failed"
            file.message = error.description
            return
        }
        let sha = source.digestHex()
        file.sha256 = sha
        file.sizeBytes = source.bytesRead

        // Same bytes as a file of the ledger or of this run: a duplicate, nothing loaded.
        let original = try Ledger.original(withSHA256: sha, db)
        if original != nil || seen[sha] != nil {
            try db.execute(sql: "ROLLBACK TO dry_run_file; RELEASE dry_run_file")
            if let original, Ledger.nameKey(original.name) == Ledger.nameKey(candidate.name) {
                file.outcome = "unchanged"
                file.message =
                    "already in the ledger as file \(original.fileId ?? 0) (\(original.state.rawValue), \(original.finishedAt)): podpiped skips it"
            } else if let original {
                file.outcome = "duplicate"
                file.message =
                    "same bytes as \(original.name) (file \(original.fileId ?? 0), \(original.state.rawValue)); podpiped would record it as a duplicate and load nothing"
            } else {
                file.outcome = "duplicate"
                file.message =
                    "same bytes as \(seen[sha] ?? "") given earlier in this run; podpiped would load it once"
            }
            return
        }
        seen[sha] = candidate.name
        let previous = try LedgerEntry.fetchOne(
            db,
            sql:
                "SELECT * FROM ingest_file WHERE name = ? AND state <> 'failed' ORDER BY file_id DESC LIMIT 1",
            arguments: [candidate.name])
        var notes: [String] = []
        if let previous {
            notes.append(
                candidate.kind == .events
                    ? "new version of \(candidate.name) (ledger file \(previous.fileId ?? 0)); its events are de-duplicated against the earlier version"
                    : "new version of \(candidate.name) (ledger file \(previous.fileId ?? 0)); its rows update the earlier ones (the latest file wins)"
            )
        }
        file.rowsRead = counts.rowsRead
        file.rowsLoaded = counts.rowsLoaded
        file.rowsRejected = counts.rowsRejected
        file.rowsDuplicate = counts.rowsDuplicate
        file.firstError = counts.firstError
        file.firstErrorLine = counts.firstErrorLine
        if let rejection {
            file.outcome = "rejected"
            notes.insert(rejection.message, at: 0)
            file.firstError = file.firstError ?? rejection.message
        } else {
            file.outcome = "loaded"
        }
        try collectRejects(fileId: fileId, kind: candidate.kind, into: &file, db: db)
        if candidate.kind != .events && file.outcome == "loaded" {
            if let row = try Row.fetchOne(
                db, sql: try SQLResource.load("inspect", "dry_run_reference_changes"),
                arguments: ["file_id": fileId])
            {
                file.referenceAdded = row["added"]
                file.referenceChanged = row["changed"]
            }
        }
        file.message = notes.isEmpty ? nil : notes.joined(separator: "; ")
        try db.execute(sql: "RELEASE dry_run_file")
    }

    /// Code counts and the first rejected rows of the file, from the TEMP bronze tables.
    func collectRejects(fileId: Int64, kind: FileKind, into file: inout DryRunFile, db: Database)
        throws
    {
        let table = kind == .events ? "temp.bronze_event" : "temp.bronze_reference"
        let lists = try Row.fetchAll(
            db,
            sql:
                "SELECT error_codes, count(*) AS n FROM \(table) WHERE file_id = ? AND outcome = 'rejected' GROUP BY error_codes",
            arguments: [fileId])
        var counts: [String: Int] = [:]
        for row in lists {
            let codes: String = row["error_codes"] ?? ""
            let n: Int = row["n"] ?? 0
            for code in codes.split(separator: ",") { counts[String(code), default: 0] += n }
        }
        file.codeCounts = counts
        guard sampleLimit > 0 else { return }
        file.rejects = try Row.fetchAll(
            db,
            sql:
                "SELECT line_no, error_codes, raw FROM \(table) WHERE file_id = ? AND outcome = 'rejected' ORDER BY line_no LIMIT ?",
            arguments: [fileId, sampleLimit]
        ).map { row in
            DryRunReject(line: row["line_no"] ?? 0, codes: row["error_codes"] ?? "", raw: row["raw"] ?? "")
        }
    }
}
