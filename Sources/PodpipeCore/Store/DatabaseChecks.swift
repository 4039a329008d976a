import Foundation
import GRDB

/// Whose database a file is, decided before podpipe writes a byte of it.
///
/// podpipe databases carry `PRAGMA application_id` = ``applicationID`` (set by migration
/// 0005). A database of an earlier podpipe, without it, is recognised by its schema
/// migrations table and adopted (0005 then sets the id). Anything else that has a schema is
/// another application's file: podpipe refuses it rather than add its tables to it.
enum DatabaseOwnership: Equatable, Sendable {
    /// No schema at all (a new or empty file): podpipe creates its own.
    case new
    /// podpipe's, with every migration applied known to this version.
    case podpipe
    /// podpipe's, written by a newer version (migrations this one does not know).
    case newer(unknown: [String])
    /// Another application's database (the reason says how it was recognised).
    case foreign(reason: String)

    /// "podp" in ASCII. Migration 0005 writes the same number.
    static let applicationID: Int32 = 0x706F_6470

    /// - Parameters:
    ///   - applicationID: the database's `PRAGMA application_id`.
    ///   - schemaNames: the names in `sqlite_master` (tables, indexes, views, triggers),
    ///     SQLite's internal `sqlite_*` ones excluded.
    ///   - applied: the identifiers in GRDB's `grdb_migrations` (empty without the table).
    ///   - known: this version's migrations.
    static func classify(
        applicationID: Int32, schemaNames: [String], applied: [String], known: [String]
    ) -> DatabaseOwnership {
        if applicationID != 0 && applicationID != Self.applicationID {
            return .foreign(
                reason:
                    "its application_id is \(applicationID) (podpipe's is \(Self.applicationID)): it belongs to another application"
            )
        }
        if schemaNames.isEmpty { return .new }
        if applied.isEmpty {
            let shown = schemaNames.sorted().prefix(5).joined(separator: ", ")
            return .foreign(
                reason:
                    "it has a schema (\(shown)\(schemaNames.count > 5 ? ", …" : "")) but no podpipe schema migrations"
            )
        }
        let unknown = Set(applied).subtracting(known)
        if unknown.isEmpty { return .podpipe }
        if applicationID == Self.applicationID || !Set(applied).isDisjoint(with: known) {
            return .newer(unknown: unknown.sorted())
        }
        return .foreign(
            reason:
                "its schema migrations (\(applied.sorted().prefix(5).joined(separator: ", "))) are not podpipe's"
        )
    }

    /// Reads what ``classify(applicationID:schemaNames:applied:known:)`` needs.
    static func inspect(_ db: Database, known: [String]) throws -> DatabaseOwnership {
        let id = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
        let names = try String.fetchAll(
            db, sql: "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
        let applied =
            names.contains("grdb_migrations")
            ? try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations") : []
        return classify(applicationID: id, schemaNames: names, applied: applied, known: known)
    }
}

/// How a read-only command opens the database.
///
/// SQLite reads a WAL database through its `-shm` file (and the `-wal` beside it). A reader
/// that may create neither (another Unix user than the database's owner, a read-only copy or
/// mount) can still read the database when the database file alone holds every committed
/// row (no WAL, or an empty one): then it opens it `immutable` (no locks, no `-shm`), guarded
/// by a shared lock on the file that keeps podpipe writers from starting meanwhile.
enum ReadAccess: Equatable, Sendable {
    /// SQLite's usual read-only open (it creates or reads the `-shm`).
    case shared
    /// The database file alone, `immutable=1`.
    case immutable
    /// Cannot be read safely by this user; the reason says why and what to do.
    case refuse(reason: String)

    /// - Parameters:
    ///   - walBytes: the size of `<database>-wal`, nil when there is none.
    ///   - shmExists: whether `<database>-shm` exists.
    ///   - folderWritable: whether this user may create files beside the database.
    static func decide(walBytes: Int64?, shmExists: Bool, folderWritable: Bool) -> ReadAccess {
        if folderWritable { return .shared }
        switch walBytes {
        case nil, 0?:
            // No WAL or an empty one: every committed row is in the database file. (With a
            // WAL but no -wal file SQLite cannot open read-only, -shm or not.)
            return walBytes == nil || !shmExists ? .immutable : .shared
        case .some:
            if shmExists { return .shared }  // SQLite reads a -shm it may not write
            return .refuse(
                reason:
                    "its WAL may hold committed rows and its shared-memory file (-shm) is missing and cannot be created by this user; run the command as the database's owner (or while the daemon runs, which keeps the -shm)"
            )
        }
    }

    /// The SQLite URI that opens `path` immutable.
    static func immutableURI(_ path: String) -> String {
        var escaped = ""
        for character in path {
            switch character {
            case "%": escaped += "%25"
            case "?": escaped += "%3f"
            case "#": escaped += "%23"
            default: escaped.append(character)
            }
        }
        return "file:" + escaped + "?immutable=1"
    }
}
