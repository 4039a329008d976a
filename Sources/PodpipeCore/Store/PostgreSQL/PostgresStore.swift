import Foundation
import Logging

/// The PostgreSQL store (issue 18): a connection to the server with the schema migrated.
/// The read side opens it like SQLite's ``Store``; the writer's ingest runs over it through
/// ``IngestStore``.
final class PostgresStore {
    /// The connection, used by one thread at a time (the writer's, or a reader's).
    let connection: PostgresConnection
    /// The URI with any password hidden (for messages and logs).
    let shownLocation: String
    let uri: String
    let logger: Logger

    private init(uri: String, connection: PostgresConnection, logger: Logger) {
        self.uri = uri
        self.connection = connection
        self.shownLocation = connection.location
        self.logger = logger
    }

    /// Connects to `uri` (a libpq URI; `PG*` variables and `~/.pgpass` apply) and applies
    /// the pending schema migrations (``PostgresMigrations``).
    static func open(uri: String, logger: Logger, timeout: Double = 30) throws -> PostgresStore {
        let connection = try PostgresConnection(uri: uri, timeout: timeout)
        let applied = try PostgresMigrations.migrate(connection)
        if !applied.isEmpty {
            logger.info(
                "PostgreSQL schema migrated",
                metadata: [
                    "database": "\(connection.location)", "migrations": "\(applied.joined(separator: ","))",
                ])
        }
        return PostgresStore(uri: uri, connection: connection, logger: logger)
    }
}
