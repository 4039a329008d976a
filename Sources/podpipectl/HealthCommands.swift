import ArgumentParser
import Foundation
import PodpipeCore

/// `podpipectl metrics`: the Prometheus text of the database, read-only (like `status`).
struct Metrics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the metrics in the Prometheus text format.",
        discussion: """
            The same text the writer puts in metrics.textfile after each pass: files by \
            state and kind, rows by layer, rejected rows by code, duplicates, bytes read, \
            per-file load times (a histogram), gold refresh time and age, the oldest waiting \
            file's age, the last pass, retries, whether the daemon is up and status's \
            verdict. Read-only: works while the daemon writes. For a cron job or a push: \
            podpipectl metrics > /var/lib/node_exporter/textfile_collector/podpipe.prom.tmp \
            && mv … (or set metrics.textfile). On a PostgreSQL warehouse: the warehouse's \
            totals with this host's daemon and folder, plus podpipe_host_daemon_up and \
            podpipe_host_files_waiting per host and drop folder.
            """)

    @OptionGroup var common: CommonOptions

    func run() async throws {
        try await handling {
            let settings = try await common.load()
            if let warehouse = try Warehouse.open(settings) {
                emit(try warehouse.metrics(config: settings).text())
            } else {
                let store = try common.openStore(settings)
                emit(try MetricsSnapshot.gather(store: store, config: settings).text())
            }
        }
    }
}

/// `podpipectl ack`: acknowledge rejected and failed files so that status is healthy again.
struct Ack: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Acknowledge rejected or failed files: status stops counting them.",
        discussion: """
            For each NAME, every rejected or failed version of that name recorded now is \
            acknowledged (--all: of every name). The ledger is not changed; files still \
            show in status's last errors, marked acknowledged. A new version of the name \
            that is rejected or fails is a new problem; so is a failed file whose bytes \
            change. Works while the daemon runs (a short transaction beside it, waiting at \
            most 30 s for the file in progress; exit 75 if it takes longer). On a PostgreSQL \
            database: one transaction beside every host's writer; a name is acknowledged \
            on every host and folder that recorded it.
            """)

    @OptionGroup var common: CommonOptions

    @Argument(
        help: "File names as in the ledger (see podpipectl files --state rejected).",
        completion: .custom(LedgerNameCompletion.complete))
    var names: [String] = []

    @Flag(name: .long, help: "Acknowledge every rejected and failed file.")
    var all = false

    @Flag(name: .long, help: "One JSON object, for scripts.")
    var json = false

    func validate() throws {
        if names.isEmpty && !all { throw ValidationError("name at least one file to acknowledge, or --all") }
        if !names.isEmpty && all { throw ValidationError("give file names or --all, not both") }
    }

    func run() async throws {
        try await handling {
            let settings = try await common.load()
            let summary = try Acknowledger.run(names: all ? nil : names, database: settings.database)
            emit(json ? summary.json() : summary.text())
        }
    }
}
