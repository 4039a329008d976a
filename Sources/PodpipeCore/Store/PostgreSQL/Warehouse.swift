import Foundation

/// The read side of a PostgreSQL warehouse for `podpipectl` (`report`, `status`, `metrics`,
/// `files` and `rejects` through ``InspectedDatabase``): one connection, no migration (a
/// reader never changes the schema; the daemons migrate).
public final class Warehouse {
    let connection: PostgresConnection

    init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// The warehouse `config.database` names, or nil when it is a SQLite file.
    ///
    /// - Parameter timeout: the connection's deadline per call, in seconds.
    /// - Throws: ``PostgresError`` when the server cannot be reached in time.
    public static func open(_ config: PodpipeConfig, timeout: Double = 30) throws -> Warehouse? {
        guard case .postgresql(let uri) = DatabaseLocation(config.database) else { return nil }
        return Warehouse(connection: try PostgresConnection(uri: uri, timeout: timeout))
    }

    /// Runs a report (the same tables, columns and text as on SQLite), in one read-only
    /// snapshot.
    public func report(_ kind: ReportKind, options: ReportOptions) throws -> ReportTable {
        try snapshot { try Reports.run(kind, options: options, on: $0) }
    }

    /// The HTML report's page: every section's report in one read-only snapshot.
    public func htmlPage(options: ReportOptions) throws -> HTMLReport.Page {
        try snapshot { try HTMLReport.gather(options: options, on: $0) }
    }

    /// Runs `body` in one read-only transaction (one snapshot of gold and the ledger).
    func snapshot<T>(_ body: (PostgresQueries) throws -> T) throws -> T {
        try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        defer { _ = try? connection.execute("COMMIT") }
        return try body(PostgresQueries(connection: connection))
    }

    /// The status of every host and the warehouse's totals; files waiting in this host's
    /// folder are compared with this host's ledger rows for that folder.
    public func status(config: PodpipeConfig, now: Date = Date()) throws -> StatusReport {
        try StatusReport.gather(postgres: connection, config: config, now: now, latest: thisHostsLedger)
    }

    /// `podpipectl metrics`: the same text as on SQLite (and as the writer's textfile).
    public func metrics(config: PodpipeConfig, now: Date = Date()) throws -> MetricsSnapshot {
        try MetricsSnapshot.gather(postgres: connection, config: config, now: now, latest: thisHostsLedger)
    }

    /// The ledger's newest row per name of this host's `folder`.
    private func thisHostsLedger(_ folder: String) throws -> [[UInt8]: LedgerSettlement] {
        try PostgresLedger.latestByName(
            LedgerScope(host: DaemonLiveness.hostName(), dataLoad: folder), connection)
    }
}
