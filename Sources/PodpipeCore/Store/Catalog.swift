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
        let sql = try SQLResource.load("catalog", "podpipe_catalog")
        let digest = SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
        let installed = try writer.read { db in try PipelineState.get(.catalogDigest, db) }
        guard installed != digest else { return }
        try writer.write { db in
            try db.execute(sql: sql)
            try PipelineState.set(.catalogDigest, digest, db)
        }
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
