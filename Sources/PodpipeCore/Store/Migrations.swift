import Foundation
import GRDB

/// The numbered schema migrations, read from `SQL/migrations/NNNN_name.sql`.
///
/// Each file is applied once, in number order, and recorded by GRDB in
/// `grdb_migrations`. A shipped migration is never edited: a schema change is a new file.
enum Migrations {
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        for (identifier, sql) in files() {
            migrator.registerMigration(identifier) { db in
                // Functions a migration's SQL may call (0014 fills silver's key hashes).
                SilverKeySlot.register(on: db)
                try db.execute(sql: sql)
            }
        }
        return migrator
    }()

    /// (identifier, SQL) pairs sorted by name, e.g. ("0001_ledger_bronze_silver", "...").
    static func files() -> [(String, String)] {
        guard
            let directory = Bundle.module.url(
                forResource: "migrations", withExtension: nil, subdirectory: "SQL")
        else { return [] }
        let names =
            (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".sql") }.sorted().compactMap { name in
            let url = directory.appendingPathComponent(name)
            guard let sql = try? String(contentsOf: url, encoding: .utf8) else { return nil }
            return (String(name.dropLast(4)), sql)
        }
    }
}

/// Loads an analyst-facing SQL file from the bundle (`SQL/gold/…`, `SQL/reports/…`).
enum SQLResource {
    static func load(_ subdirectory: String, _ name: String) throws -> String {
        guard
            let url = Bundle.module.url(
                forResource: name, withExtension: "sql", subdirectory: "SQL/\(subdirectory)"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { throw StoreError.missingResource(name: "\(subdirectory)/\(name).sql") }
        return text
    }
}
