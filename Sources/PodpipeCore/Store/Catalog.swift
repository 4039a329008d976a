import Crypto
import Foundation
import GRDB

/// `podpipe_catalog` (migration 0012): the descriptions of `doc/data-model.md` inside the
/// database, for tools that cannot read the repository (Datasette, Metabase, a notebook).
///
/// The rows are the resource `SQL/catalog/podpipe_catalog.sql`, generated from the doc by
/// `scripts/update-catalog.sh` (the doc is the one source; `DataModelDocTests` fails when the
/// resource is older). The writer replaces them at every open, in one transaction, so that a
/// newer podpipe brings its newer descriptions to an existing database.
enum Catalog {
    /// Replaces the catalog's rows with the resource's when the resource differs from the
    /// one installed (its SHA-256 in `pipeline_state`): an open without a change only reads.
    /// (Writing and rolling back would not do: the pages a rolled-back savepoint touched stay
    /// dirty and are written to the WAL at every open.)
    static func install(_ writer: some DatabaseWriter) throws {
        let (sql, digest) = try resource()
        let installed = try writer.read { db in try PipelineState.get(.catalogDigest, db) }
        guard installed != digest else { return }
        try writer.write { db in
            try db.execute(sql: sql)
            try PipelineState.set(.catalogDigest, digest, db)
        }
    }

    /// The generated rows (`DELETE` then `INSERT`, valid SQL on both engines) and their
    /// SHA-256, which `pipeline_state` keeps as the installed version.
    static func resource() throws -> (sql: String, digest: String) {
        let sql = try SQLResource.load("catalog", "podpipe_catalog")
        return (sql, SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined())
    }

    /// The catalog's rows in key order, as one comparable value.
    static func fingerprint(_ db: Database) throws -> [Row] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT object_name, column_name, kind, layer, position, type, description
                FROM podpipe_catalog ORDER BY object_name, column_name
                """)
    }
}

/// `podpipe_catalog` on PostgreSQL (migration `SQL/postgres/0005_catalog.sql`): the same
/// generated rows as SQLite's (``Catalog/resource()``, one source), installed by the writer
/// at open when their digest differs from the installed one, and turned into `COMMENT ON`
/// the tables, views and columns that exist (`SQL/postgres/catalog/podpipe_catalog_comments.sql`),
/// all in one transaction. Hosts starting at once take the migrations' advisory lock, so the
/// second finds the work done.
enum PostgresCatalog {
    /// Installs the resource's rows and comments unless they are installed already; true
    /// when it wrote them. `force` after a migration: a migration that replaces a view drops
    /// its comments with it, so they are written again.
    @discardableResult
    static func install(_ connection: PostgresConnection, force: Bool = false) throws -> Bool {
        let (sql, digest) = try Catalog.resource()
        guard try force || PostgresPipelineState.get(.catalogDigest, connection) != digest else {
            return false
        }
        try connection.execute("BEGIN")
        do {
            try connection.query(
                "SELECT pg_advisory_xact_lock($1, $2)",
                [String(PostgresLockKey.namespace), String(PostgresLockKey.migrations)])
            guard try force || PostgresPipelineState.get(.catalogDigest, connection) != digest else {
                try connection.execute("COMMIT")
                return false
            }
            try connection.execute(sql)
            try connection.execute(try SQLResource.load("postgres/catalog", "podpipe_catalog_comments"))
            try PostgresPipelineState.set(.catalogDigest, digest, connection)
            try connection.execute("COMMIT")
            return true
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
    }
}
