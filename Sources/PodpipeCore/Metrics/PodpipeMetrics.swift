import Foundation
import GRDB

/// Everything the metrics say, read from the database and the folder when asked (a
/// collector, not counters kept in memory): `podpipectl metrics` and the writer's
/// textfile (``MetricsTextfile``) print the same numbers, whoever wrote the database.
///
/// ``gather(store:config:now:)`` reads; ``families()`` turns the numbers into metric
/// families without a disk (tests build a snapshot by hand).
public struct MetricsSnapshot: Sendable {
    /// `podpipectl status`'s view: daemon, files waiting, gold, health.
    var status: StatusReport
    /// One row of `SQL/metrics/ledger_totals.sql`.
    struct LedgerTotal: Sendable, Equatable {
        var kind: String
        var state: String
        var files: Int64
        var rowsRead: Int64
        var rowsLoaded: Int64
        var rowsRejected: Int64
        var rowsDuplicate: Int64
        var bytes: Int64
        var retries: Int64
    }
    var ledger: [LedgerTotal] = []
    /// (kind, milliseconds, files) of `SQL/metrics/load_durations.sql`.
    var loadDurations: [(kind: String, milliseconds: Int64, files: Int64)] = []
    /// (kind, code, rows) of `SQL/inspect/rejects_by_code.sql`, unfiltered.
    var rejectedCodes: [(kind: String, code: String, rows: Int64)] = []
    /// (layer, table, rows) now.
    var tableRows: [(layer: String, table: String, rows: Int64)] = []
    /// The last gold refresh that changed gold: how long it took.
    var goldRefreshMilliseconds: Int64?
    var now: Date

    init(status: StatusReport, now: Date) {
        self.status = status
        self.now = now
    }

    /// Upper bounds (seconds) of `podpipe_file_load_seconds`: a small file loads in
    /// milliseconds, 1M events in about 8 s, a 1 GB file in minutes.
    static let loadSecondsBounds: [Double] = [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800,
    ]

    /// Reads the snapshot: `status`'s report, then the ledger's totals, the load times,
    /// the rejected rows' codes and the row counts of the reference and gold tables, in
    /// one read transaction (one snapshot of the database).
    public static func gather(store: Store, config: PodpipeConfig, now: Date = Date()) throws
        -> MetricsSnapshot
    {
        var snapshot = MetricsSnapshot(
            status: try StatusReport.gather(store: store, config: config, now: now), now: now)
        try store.pool.read { db in try snapshot.readRecorded(SQLiteQueries(db: db)) }
        return snapshot
    }

    /// ``gather(store:config:now:)`` on a PostgreSQL warehouse: `status`'s report of it
    /// (``StatusReport/gather(postgres:config:now:latest:)``, whose `latest` gives the
    /// ledger's rows of this host's folder), then the same numbers through the same SQL (or
    /// PostgreSQL's beside it) in one REPEATABLE READ snapshot.
    static func gather(
        postgres connection: PostgresConnection, config: PodpipeConfig, now: Date = Date(),
        latest: (_ folder: String) throws -> [[UInt8]: LedgerSettlement]
    ) throws -> MetricsSnapshot {
        var snapshot = MetricsSnapshot(
            status: try StatusReport.gather(postgres: connection, config: config, now: now, latest: latest),
            now: now)
        try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        do {
            try snapshot.readRecorded(PostgresQueries(connection: connection))
            try connection.execute("COMMIT")
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
        return snapshot
    }

    /// What the database records beyond `status` (the ledger's totals, the load times, the
    /// rejected rows' codes, the tables' rows, the last refresh's duration), through the
    /// read seam inside the caller's snapshot: one procedure for every engine.
    mutating func readRecorded(_ store: some QueryRunner) throws {
        func int(_ row: [ReportValue], _ index: Int) -> Int64 {
            index < row.count ? row[index].int64Value ?? 0 : 0
        }
        func text(_ row: [ReportValue], _ index: Int) -> String {
            index < row.count ? row[index].stringValue ?? "" : ""
        }
        // Portable SQL (one file for both engines): the columns in this order.
        ledger = try store.table(try SQLResource.load("metrics", "ledger_totals"), []).rows.map { row in
            LedgerTotal(
                kind: text(row, 0), state: text(row, 1), files: int(row, 2), rowsRead: int(row, 3),
                rowsLoaded: int(row, 4), rowsRejected: int(row, 5), rowsDuplicate: int(row, 6),
                bytes: int(row, 7), retries: int(row, 8))
        }
        loadDurations = try store.table(try SQLResource.load("metrics", "load_durations"), []).rows.map {
            (text($0, 0), int($0, 1), int($0, 2))
        }
        // Parameters :file, :code (no filter).
        rejectedCodes = try store.table(try store.resource("inspect", "rejects_by_code"), [.null, .null]).rows
            .map { (text($0, 0), text($0, 1), int($0, 2)) }
        // The silver events are the ledger's (its rows_loaded add up to silver_event, and
        // counting a large table is a scan); the other tables are counted.
        let silverEvents = ledger.filter { $0.kind == FileKind.events.rawValue }
            .reduce(Int64(0)) { $0 &+ $1.rowsLoaded }
        tableRows = [("silver", "silver_event", silverEvents)]
        let tables = try store.table(try store.resource("metrics", "counted_tables"), []).rows.map {
            text($0, 0)
        }
        for table in tables where !table.isEmpty && !table.contains("\"") {
            let rows = try store.scalar("SELECT count(*) FROM \"\(table)\"")?.int64Value ?? 0
            tableRows.append((table.hasPrefix("silver_") ? "silver" : "gold", table, rows))
        }
        goldRefreshMilliseconds = try store.pipelineState(.goldLastDurationMs).flatMap { Int64($0) }
    }

    /// The metric families, in a fixed order (see doc/operations.md, "Metrics").
    func families() -> [MetricFamily] {
        var families: [MetricFamily] = []
        func family(_ name: String, _ kind: MetricFamily.Kind, _ help: String, _ samples: [MetricSample]) {
            families.append(MetricFamily(name, kind, help: help, samples: samples))
        }
        func byKind(_ value: (LedgerTotal) -> Int64, states: Set<String>) -> [MetricSample] {
            var sums: [String: Int64] = [:]
            for total in ledger where states.contains(total.state) {
                sums[total.kind, default: 0] &+= value(total)
            }
            return sums.keys.sorted().map { MetricSample(sums[$0] ?? 0, [MetricLabel("kind", $0)]) }
        }
        let read: Set<String> = ["loaded", "rejected", "duplicate"]
        let committed: Set<String> = ["loaded", "rejected"]

        family(
            "podpipe_daemon_up", .gauge,
            "1 when a podpipe daemon runs on this database (fresh heartbeat, live pid), else 0.",
            [MetricSample(Int64(status.daemon.state == .running ? 1 : 0))])
        family(
            "podpipe_healthy", .gauge,
            "1 when podpipectl status is healthy (exit 0), else 0; see podpipe_problems.",
            [MetricSample(Int64(status.healthy ? 1 : 0))])
        family(
            "podpipe_problems", .gauge, "How many problems podpipectl status reports.",
            [MetricSample(Int64(status.problems.count))])
        family(
            "podpipe_files", .gauge,
            "Ledger rows (file versions) by kind and state: loaded, rejected, duplicate, failed.",
            ledger.map {
                MetricSample($0.files, [MetricLabel("kind", $0.kind), MetricLabel("state", $0.state)])
            })
        family(
            "podpipe_files_unacknowledged", .gauge,
            "Rejected and failed file versions no operator acknowledged (podpipectl ack).",
            [
                MetricSample(Int64(status.health.unacknowledgedRejected), [MetricLabel("state", "rejected")]),
                MetricSample(Int64(status.health.unacknowledgedFailed), [MetricLabel("state", "failed")]),
            ])
        family(
            "podpipe_files_waiting", .gauge, "Files in the drop folder not yet settled in the ledger.",
            [MetricSample(Int64(status.files.pending))])
        family(
            "podpipe_files_ignored", .gauge, "Entries of the drop folder that are not files to ingest.",
            [MetricSample(Int64(status.files.ignored))])
        family(
            "podpipe_oldest_waiting_file_age_seconds", .gauge,
            "How long the oldest file waiting in the drop folder has waited (0 when none waits).",
            [MetricSample(Double(max(0, status.health.oldestWaitingAgeSeconds ?? 0)))])
        family(
            "podpipe_last_pass_timestamp_seconds", .gauge,
            "When the writer (daemon or podpiped --once) last completed a pass, Unix time.",
            status.health.lastPassAt.flatMap(ISOTime.parse).map { [MetricSample($0.timeIntervalSince1970)] }
                ?? [])
        family(
            "podpipe_rows_total", .counter,
            "Rows received into bronze (layer bronze) and rows that reached silver (layer silver), by file kind.",
            byKind(\.rowsRead, states: committed).map { sample in
                MetricSample(sample.value, [MetricLabel("layer", "bronze")] + sample.labels)
            }
                + byKind(\.rowsLoaded, states: committed).map { sample in
                    MetricSample(sample.value, [MetricLabel("layer", "silver")] + sample.labels)
                })
        family(
            "podpipe_rows_rejected_total", .counter, "Rows rejected by the validation rules, by file kind.",
            byKind(\.rowsRejected, states: committed))
        family(
            "podpipe_rejected_row_codes_total", .counter,
            "Rejected rows carrying each error code (a row with several codes counts under each).",
            rejectedCodes.map {
                MetricSample($0.rows, [MetricLabel("kind", $0.kind), MetricLabel("code", $0.code)])
            })
        family(
            "podpipe_rows_duplicate_total", .counter,
            "Valid event rows whose natural key was already in silver (kept in bronze only).",
            byKind(\.rowsDuplicate, states: committed))
        family(
            "podpipe_table_rows", .gauge,
            "Rows now in the silver and gold tables (silver_event from the ledger's counts).",
            tableRows.map {
                MetricSample($0.rows, [MetricLabel("layer", $0.layer), MetricLabel("table", $0.table)])
            })
        family(
            "podpipe_read_bytes_total", .counter,
            "Bytes of the files read to the end (loaded, rejected, duplicate), by file kind.",
            byKind(\.bytes, states: read))
        family(
            "podpipe_file_retries_total", .counter,
            "Attempts after a failed one (files retried after an I/O or database error), by file kind.",
            byKind(\.retries, states: read.union(["failed"])))
        var histograms: [HistogramSample] = []
        for kind in Set(loadDurations.map(\.kind)).sorted() {
            let rows = loadDurations.filter { $0.kind == kind }
            let observations = rows.map { (value: Double($0.milliseconds) / 1000, times: $0.files) }
            // Summed in whole milliseconds, then divided once: 1.524, not 1.5239999999999998.
            let milliseconds = rows.reduce(0.0) { $0 + Double($1.milliseconds) * Double($1.files) }
            histograms.append(
                HistogramSample(
                    bounds: Self.loadSecondsBounds, observations: observations,
                    labels: [MetricLabel("kind", kind)],
                    sum: milliseconds / 1000))
        }
        families.append(
            MetricFamily(
                histogram: "podpipe_file_load_seconds",
                help: "Time to load one file version (its transaction), files read to the end, by kind.",
                histograms))
        family(
            "podpipe_gold_refresh_duration_seconds", .gauge,
            "How long the last gold refresh that changed gold took.",
            goldRefreshMilliseconds.map { [MetricSample(Double($0) / 1000)] } ?? [])
        family(
            "podpipe_gold_refreshed_timestamp_seconds", .gauge, "When gold was last refreshed, Unix time.",
            status.gold.refreshedAt.flatMap(ISOTime.parse).map { [MetricSample($0.timeIntervalSince1970)] }
                ?? [])
        family(
            "podpipe_gold_age_seconds", .gauge, "Seconds since gold was last refreshed.",
            status.gold.ageSeconds.map { [MetricSample(Double($0))] } ?? [])
        family(
            "podpipe_gold_stale", .gauge, "1 when silver changed since the last gold refresh, else 0.",
            [MetricSample(Int64(status.gold.stale ? 1 : 0))])
        if let hosts = status.hosts {
            // PostgreSQL only (a warehouse of several writers): one series per (host, drop
            // folder), the `hosts` of `status --json`. The families above are the
            // warehouse's (this host's daemon and folder for podpipe_daemon_up and
            // podpipe_files_waiting), the same names and labels as on SQLite.
            func writer(_ host: StatusReport.Host) -> [MetricLabel] {
                [MetricLabel("host", host.host), MetricLabel("data_load", host.dataLoad)]
            }
            family(
                "podpipe_host_daemon_up", .gauge,
                "PostgreSQL: 1 when the daemon of a host and drop folder runs (fresh heartbeat), else 0.",
                hosts.map { MetricSample(Int64($0.state == .running ? 1 : 0), writer($0)) })
            family(
                "podpipe_host_files_waiting", .gauge,
                "PostgreSQL: files waiting in a host's drop folder, as its daemon last counted them.",
                hosts.compactMap { host in host.filesWaiting.map { MetricSample($0, writer(host)) } })
        }
        return families
    }

    /// The text exposition of ``families()``.
    public func text() -> String { PrometheusText.render(families()) }
}
