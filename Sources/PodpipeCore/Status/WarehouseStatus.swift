import Foundation

/// `podpipectl status` on a PostgreSQL warehouse shared by several hosts: the report of
/// SPEC §8 (every key unchanged: `daemon` is this host's daemon, `files` / `rows` / `gold`
/// the warehouse's totals, `files.waiting` this host's folder) plus `hosts`, every (host,
/// drop folder) that ever wrote into the warehouse, as its daemon last recorded itself.
extension StatusReport {
    /// One writer of the warehouse, a (host, drop folder): its daemon (`daemon_state`, one
    /// row per host and folder) and its rows in the ledger. One that only ran `podpiped
    /// --once` has no daemon fields.
    struct Host: Sendable, Codable, Equatable {
        var host: String
        /// The drop folder (the ledger's `data_load`, the daemon's folder): with `host`, the
        /// entry's key.
        var dataLoad: String
        /// `running` only with a fresh heartbeat (and, on this host, a live pid).
        var state: DaemonRunState
        /// Why (``DaemonLiveness``'s reason).
        var detail: String
        var pid: Int64?
        var since: String?
        var lastHeartbeat: String?
        /// The end of the daemon's last pass (its last listing of the folder).
        var lastPass: String?
        var folder: String?
        var activity: String?
        /// Files in the host's folder not settled in the ledger, as the host's daemon last
        /// counted them (nil: not recorded).
        var filesWaiting: Int64?
        /// Files the host's daemon loaded, rejected, found duplicate, failed since it started.
        var filesLoaded: Int64?
        var filesRejected: Int64?
        var filesDuplicate: Int64?
        var filesFailed: Int64?
        /// The host's rows in the ledger (every file version it recorded), and when its
        /// latest one finished.
        var ledgerFiles: Int64
        var lastFileAt: String?

        enum CodingKeys: String, CodingKey {
            case host, state, detail, pid, since, folder, activity
            case dataLoad = "data_load"
            case lastHeartbeat = "last_heartbeat"
            case lastPass = "last_pass"
            case filesWaiting = "files_waiting"
            case filesLoaded = "files_loaded"
            case filesRejected = "files_rejected"
            case filesDuplicate = "files_duplicate"
            case filesFailed = "files_failed"
            case ledgerFiles = "ledger_files"
            case lastFileAt = "last_file_at"
        }

        /// The host as recorded, its daemon judged by ``DaemonLiveness`` (`thisHost`: the
        /// host running `status`, whose pids can be checked).
        init(_ entry: HostRecord, now: Date, thisHost: String) {
            host = entry.host
            dataLoad = entry.dataLoad
            ledgerFiles = entry.ledgerFiles
            lastFileAt = entry.lastFileAt
            guard let record = entry.record else {
                state = .stopped
                detail = "no daemon ran on this host (podpiped --once)"
                return
            }
            let liveness = DaemonLiveness.judge(record, now: now, host: thisHost)
            state = liveness.running ? .running : .stopped
            detail = liveness.reason
            pid = record.pid
            since = record.startedAt
            lastHeartbeat = record.heartbeatAt
            lastPass = record.lastScanAt
            folder = record.dataLoad
            activity = liveness.running ? record.activity : nil
            filesWaiting = entry.filesWaiting
            filesLoaded = record.filesLoaded
            filesRejected = record.filesRejected
            filesDuplicate = record.filesDuplicate
            filesFailed = record.filesFailed
        }
    }

    /// A row of `SQL/postgres/status/hosts.sql`.
    struct HostRecord {
        var host: String
        var dataLoad: String
        var record: DaemonStateRecord?
        var filesWaiting: Int64?
        var ledgerFiles: Int64
        var lastFileAt: String?
    }

    /// The status of a PostgreSQL warehouse, read in one REPEATABLE READ transaction (one
    /// snapshot, as SQLite's read transaction). `latest`: the ledger's newest row per name of
    /// this host's folder (the pending filter's input).
    static func gather(
        postgres connection: PostgresConnection, config: PodpipeConfig, now: Date = Date(),
        latest: (_ folder: String) throws -> [[UInt8]: LedgerSettlement]
    ) throws -> StatusReport {
        let store = PostgresQueries(connection: connection)
        let thisHost = DaemonLiveness.hostName()
        try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        var report: StatusReport
        do {
            let records = try hostRecords(store)
            let mine = ownRecord(records, host: thisHost, config: config)
            report = try recorded(
                store, config: config, now: now,
                daemon: Daemon.gather(
                    mine,
                    writerActive: writerActive(
                        store, folder: folder(config: config, recorded: mine?.dataLoad).0),
                    now: now),
                recordedFolder: mine?.dataLoad, goldStale: PostgresGoldRefresher.isStale(connection))
            report.database = DatabaseLocation.redacting(config.database)
            report.afterCommit = try AfterCommit.gather(config.afterCommit, store)
            report.hosts = records.map { Host($0, now: now, thisHost: thisHost) }
            try report.judge(config: config, now: now, latest: latest)
            try connection.execute("COMMIT")
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
        return report
    }

    /// Whether a writer of this host's `folder` holds its advisory lock now
    /// (`SQL/postgres/status/writer_active.sql`).
    static func writerActive(_ store: some QueryRunner, folder: String) throws -> Bool {
        let lock = PostgresLockKey.writer(LedgerScope(host: DaemonLiveness.hostName(), dataLoad: folder))
        return try store.scalar(
            try SQLResource.load("postgres/status", "writer_active"),
            [.integer(Int64(lock.classId)), .text(lock.text)]) == .integer(1)
    }

    /// This host's daemon (`status`'s `daemon`) among the warehouse's: the one of the
    /// configured drop folder; when none was configured (the built-in default), the one of
    /// that default, else this host's latest to beat (its folder is then the one listed, as
    /// on SQLite: ``folder(config:recorded:)``).
    static func ownRecord(_ records: [HostRecord], host: String, config: PodpipeConfig)
        -> DaemonStateRecord?
    {
        let own = records.filter { $0.host == host }.compactMap(\.record)
        if let configured = own.first(where: { $0.dataLoad == config.dataLoad }) { return configured }
        guard config.dataLoadOrigin == .builtInDefault else { return nil }
        return own.max { $0.heartbeatAt < $1.heartbeatAt }
    }

    /// Every (host, folder): its `daemon_state` row (nil for one that only ran `--once`)
    /// and what the ledger says of it.
    static func hostRecords(_ store: some QueryRunner) throws -> [HostRecord] {
        let table = try store.table(try SQLResource.load("postgres/status", "hosts"), [])
        return table.rows.compactMap { row in
            guard row.count == 25, let host = row[0].stringValue else { return nil }
            var entry = HostRecord(
                host: host, dataLoad: row[24].stringValue ?? "", record: nil,
                filesWaiting: row[21].int64Value,
                ledgerFiles: row[22].int64Value ?? 0, lastFileAt: row[23].stringValue)
            if let pid = row[2].int64Value,
                let state = row[1].stringValue.flatMap(DaemonRunState.init(rawValue:))
            {
                entry.record = DaemonStateRecord(
                    state: state, pid: pid, host: host, startedAt: row[3].stringValue ?? "",
                    heartbeatAt: row[4].stringValue ?? "", heartbeatIntervalS: row[5].int64Value ?? 0,
                    staleAfterS: row[6].int64Value ?? 0, watchMode: row[7].stringValue ?? "",
                    dataLoad: row[8].stringValue ?? "", configFile: row[9].stringValue,
                    activity: row[10].stringValue, lastScanAt: row[11].stringValue,
                    lastRefreshAt: row[12].stringValue, lastReloadAt: row[13].stringValue,
                    filesLoaded: row[14].int64Value ?? 0, filesRejected: row[15].int64Value ?? 0,
                    filesDuplicate: row[16].int64Value ?? 0, filesFailed: row[17].int64Value ?? 0,
                    stoppedAt: row[18].stringValue, stopReason: row[19].stringValue,
                    cleanStop: row[20].int64Value == 1)
            }
            return entry
        }
    }

    /// Records the files waiting in a writer's folder (`daemon_waiting`, per (host, folder)
    /// since migration 0004) after a listing, in its own statement (the row is that
    /// writer's only).
    static func recordWaiting(_ count: Int, _ scope: LedgerScope, _ connection: PostgresConnection) throws {
        try connection.query(
            """
            INSERT INTO daemon_waiting (host, data_load, files_waiting, recorded_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT (host, data_load) DO UPDATE SET files_waiting = excluded.files_waiting,
                                                        recorded_at = excluded.recorded_at
            """, [scope.host, scope.dataLoad, String(count), ISOTime.format(Date())])
    }

    /// `hosts  2 running, 1 stopped` and one line per host, for the text view.
    func hostLines() -> [String] {
        guard let hosts, !hosts.isEmpty else { return [] }
        let running = hosts.filter { $0.state == .running }.count
        var lines = ["hosts     \(running) running · \(hosts.count - running) stopped"]
        for host in hosts {
            var line = "  \(host.host)  \(host.state)"
            if host.state == .running, let pid = host.pid {
                line += " (pid \(pid))"
            } else {
                line += " (\(host.detail))"
            }
            line += host.lastHeartbeat.map { " · heartbeat \($0)" } ?? ""
            line += host.lastPass.map { " · last pass \($0)" } ?? ""
            line += host.filesWaiting.map { " · \($0) waiting" } ?? ""
            line += " · \(host.ledgerFiles) files in the ledger"
            line += host.lastFileAt.map { " (latest \($0))" } ?? ""
            line += host.dataLoad.isEmpty ? "" : " · folder \(host.dataLoad)"
            lines.append(line)
        }
        return lines
    }
}
