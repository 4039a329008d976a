import Foundation

/// `podpipectl status` on a PostgreSQL warehouse shared by several hosts: the report of
/// SPEC §8 (every key unchanged: `daemon` is this host's daemon, `files` / `rows` / `gold`
/// the warehouse's totals, `files.waiting` this host's folder) plus `hosts`, every host that
/// ever ran a daemon against the warehouse, as its daemon last recorded itself.
extension StatusReport {
    /// One host of the warehouse (`daemon_state`, one row per host).
    struct Host: Sendable, Codable, Equatable {
        var host: String
        /// `running` only with a fresh heartbeat (and, on this host, a live pid).
        var state: DaemonRunState
        /// Why (``DaemonLiveness``'s reason).
        var detail: String
        var pid: Int64
        var since: String
        var lastHeartbeat: String
        /// The end of the host's last pass (its last scan of the folder).
        var lastPass: String?
        var folder: String
        var activity: String?
        /// Files in the host's folder not settled in the ledger, as the host last counted
        /// them (nil: not recorded).
        var filesWaiting: Int64?
        /// Files the host's daemon loaded, rejected, found duplicate, failed since it started.
        var filesLoaded: Int64
        var filesRejected: Int64
        var filesDuplicate: Int64
        var filesFailed: Int64
        /// Files of the ledger this host recorded, all time.
        var ledgerFiles: Int64

        enum CodingKeys: String, CodingKey {
            case host, state, detail, pid, since, folder, activity
            case lastHeartbeat = "last_heartbeat"
            case lastPass = "last_pass"
            case filesWaiting = "files_waiting"
            case filesLoaded = "files_loaded"
            case filesRejected = "files_rejected"
            case filesDuplicate = "files_duplicate"
            case filesFailed = "files_failed"
            case ledgerFiles = "ledger_files"
        }
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
            let mine = records.first { $0.record.host == thisHost }
            report = try recorded(
                store, config: config, now: now,
                daemon: Daemon.gather(mine?.record, writerActive: mine?.record.state == .running, now: now),
                recordedFolder: mine?.record.dataLoad, goldStale: PostgresGoldRefresher.isStale(connection))
            report.database = DatabaseLocation.redacting(config.database)
            report.afterCommit = try AfterCommit.gather(config.afterCommit, store)
            report.hosts = records.map { entry in
                let liveness = DaemonLiveness.judge(entry.record, now: now, host: thisHost)
                return Host(
                    host: entry.record.host, state: liveness.running ? .running : .stopped,
                    detail: liveness.reason, pid: entry.record.pid, since: entry.record.startedAt,
                    lastHeartbeat: entry.record.heartbeatAt, lastPass: entry.record.lastScanAt,
                    folder: entry.record.dataLoad,
                    activity: liveness.running ? entry.record.activity : nil,
                    filesWaiting: entry.filesWaiting, filesLoaded: entry.record.filesLoaded,
                    filesRejected: entry.record.filesRejected,
                    filesDuplicate: entry.record.filesDuplicate, filesFailed: entry.record.filesFailed,
                    ledgerFiles: entry.ledgerFiles)
            }
            try report.judge(config: config, now: now, latest: latest)
            try connection.execute("COMMIT")
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
        return report
    }

    /// Every host's `daemon_state` row with what the ledger says of it.
    static func hostRecords(_ store: some QueryRunner) throws
        -> [(record: DaemonStateRecord, filesWaiting: Int64?, ledgerFiles: Int64)]
    {
        let table = try store.table(try SQLResource.load("postgres/status", "hosts"), [])
        return table.rows.compactMap { row in
            guard row.count == 23, let host = row[0].stringValue, let pid = row[2].int64Value,
                let state = row[1].stringValue.flatMap(DaemonRunState.init(rawValue:))
            else { return nil }
            let record = DaemonStateRecord(
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
            return (record, row[21].int64Value, row[22].int64Value ?? 0)
        }
    }

    /// Records this host's files waiting (`daemon_state.files_waiting`, migration 0003) after
    /// a pass, in its own statement (the daemon's row is this host's only).
    static func recordWaiting(_ count: Int, host: String, _ connection: PostgresConnection) throws {
        try connection.query(
            "UPDATE daemon_state SET files_waiting = $1 WHERE host = $2", [String(count), host])
    }

    /// `hosts  2 running, 1 stopped` and one line per host, for the text view.
    func hostLines() -> [String] {
        guard let hosts, !hosts.isEmpty else { return [] }
        let running = hosts.filter { $0.state == .running }.count
        var lines = ["hosts     \(running) running · \(hosts.count - running) stopped"]
        for host in hosts {
            var line = "  \(host.host)  \(host.state)"
            if host.state == .running { line += " (pid \(host.pid))" } else { line += " (\(host.detail))" }
            line += " · heartbeat \(host.lastHeartbeat)"
            line += host.lastPass.map { " · last pass \($0)" } ?? " · no pass recorded"
            line += host.filesWaiting.map { " · \($0) waiting" } ?? ""
            line += " · \(host.ledgerFiles) files in the ledger · folder \(host.folder)"
            lines.append(line)
        }
        return lines
    }
}
