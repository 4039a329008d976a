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
    /// Replaces the catalog's rows with the resource's (only when they differ: an open
    /// without a change writes nothing).
    static func install(_ writer: some DatabaseWriter) throws {
        let sql = try SQLResource.load("catalog", "podpipe_catalog")
        try writer.write { db in
            let before = try fingerprint(db)
            try db.inSavepoint {
                try db.execute(sql: sql)
                return try fingerprint(db) == before ? .rollback : .commit
            }
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
