import Foundation

/// The PostgreSQL schema migrations, read from `SQL/postgres/NNNN_name.sql` (the same
/// conventions as SQLite's `SQL/migrations/`: applied once, in number order, never edited
/// once shipped).
///
/// Every host runs them at start: all pending files are applied in one transaction that
/// first takes a transaction-level advisory lock (``PostgresLockKey/migrations``), so hosts
/// starting at once wait for each other and the second finds the work done. Each applied
/// file is recorded in `podpipe_migrations`; a database that records a migration this
/// binary does not have was written by a newer podpipe and is refused (as SQLite's).
enum PostgresMigrations {
    /// (identifier, SQL) pairs sorted by name, e.g. ("0001_ledger_bronze_silver", "...").
    static func files() -> [(String, String)] {
        guard
            let directory = Bundle.module.url(
                forResource: "postgres", withExtension: nil, subdirectory: "SQL")
        else { return [] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".sql") }.sorted().compactMap { name in
            let url = directory.appendingPathComponent(name)
            guard let sql = try? String(contentsOf: url, encoding: .utf8) else { return nil }
            return (String(name.dropLast(4)), sql)
        }
    }

    /// The migrations `recorded` in a database that `known` (this binary's) lacks.
    static func unknown(recorded: [String], known: [String]) -> [String] {
        let knownSet = Set(known)
        return recorded.filter { !knownSet.contains($0) }.sorted()
    }

    /// Applies the pending migrations; returns the identifiers applied (empty when the
    /// schema was up to date).
    /// - Throws: ``StoreError/schemaTooNew(path:unknown:)`` for a newer database,
    ///   ``PostgresError`` for the server's errors (nothing is applied then).
    @discardableResult
    static func migrate(_ connection: PostgresConnection, files: [(String, String)] = files())
        throws -> [String]
    {
        try connection.execute("BEGIN")
        do {
            try connection.query(
                "SELECT pg_advisory_xact_lock($1, $2)",
                [String(PostgresLockKey.namespace), String(PostgresLockKey.migrations)])
            try connection.execute(
                """
                CREATE TABLE IF NOT EXISTS podpipe_migrations (
                    identifier text COLLATE "C" PRIMARY KEY,
                    applied_at text COLLATE "C" NOT NULL
                )
                """)
            let recorded = try connection.query("SELECT identifier FROM podpipe_migrations").rows
                .compactMap { $0.first ?? nil }
            let unknown = unknown(recorded: recorded, known: files.map(\.0))
            guard unknown.isEmpty else {
                throw StoreError.schemaTooNew(path: connection.location, unknown: unknown)
            }
            let done = Set(recorded)
            var applied: [String] = []
            for (identifier, sql) in files where !done.contains(identifier) {
                try connection.execute(sql)
                try connection.query(
                    "INSERT INTO podpipe_migrations (identifier, applied_at) VALUES ($1, $2)",
                    [identifier, ISOTime.format(Date())])
                applied.append(identifier)
            }
            try connection.execute("COMMIT")
            return applied
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
    }
}

/// The advisory-lock keys podpipe takes on a PostgreSQL server: the two-int form
/// (namespace, key), the namespace "podp" (0x706F6470, as SQLite's application_id).
enum PostgresLockKey {
    static let namespace: Int32 = 0x706F_6470
    /// Held (transaction-level) while the schema migrations run.
    static let migrations: Int32 = 1
    /// Held (transaction-level) by the gold refresh: one at a time across hosts.
    static let goldRefresh: Int32 = 2
    /// Held (session-level, for two statements) while a file's bronze_id range is reserved.
    static let bronzeIds: Int32 = 3
    /// Classes of keys (added to ``namespace``) whose second int is `hashtext` of a text:
    /// a file's bytes (kind and SHA-256; transaction-level, see ``PostgresIngestSession``).
    static let fileBytes: Int32 = 1
    /// A writer's (host, drop folder) (session-level, ``PostgresWriterSession``).
    static let writers: Int32 = 2

    /// A key of a class (``namespace`` + class) and a text hashed by the server.
    struct Text: Sendable, Equatable {
        var classId: Int32
        var text: String
    }

    /// The writer lock of a host's drop folder.
    static func writer(_ scope: LedgerScope) -> Text {
        Text(classId: namespace + writers, text: scope.host + "\n" + scope.dataLoad)
    }
}
