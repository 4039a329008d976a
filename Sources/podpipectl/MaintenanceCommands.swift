import ArgumentParser
import Foundation
import PodpipeCore

#if canImport(Glibc)
    import Glibc
#endif

/// `podpipectl reprocess`: forget files so that the next pass loads them again.
struct Reprocess: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Forget files (ledger row, bronze and silver rows) so the next pass loads them again.",
        discussion: """
            For each NAME, the newest ledger row of that name is forgotten, with every \
            bronze and silver row it contributed, in one transaction; gold is rebuilt in \
            full at the next refresh. The files themselves are not touched: the next pass \
            (podpiped --once, or the daemon) loads them again if they are still in the drop \
            folder. Writes the database: needs the writer lock (stop the daemon first); \
            --dry-run only reads and works while the daemon runs.
            """)

    @OptionGroup var common: CommonOptions

    @Argument(
        help: "File names as in the ledger (see podpipectl files).",
        completion: .custom(LedgerNameCompletion.complete))
    var names: [String]

    @Flag(name: .customLong("dry-run"), help: "Show what would be forgotten; write nothing.")
    var dryRun = false

    @Flag(name: .customLong("all-versions"), help: "Forget every version of each name, not only the newest.")
    var allVersions = false

    @Flag(name: .long, help: "One JSON object, for scripts.")
    var json = false

    func validate() throws {
        if names.isEmpty { throw ValidationError("name at least one file to reprocess") }
    }

    func run() async throws {
        try await handling {
            let settings = try await common.load()
            // The plan first, read-only: unknown names are refused without touching the
            // database (not even a WAL checkpoint).
            let store = try common.openStore(settings)
            var plan = try await store.pool.read { db in
                try Reprocessor.plan(names: names, allVersions: allVersions, dryRun: true, in: db)
            }
            if !dryRun {
                let session = try WriterSession.forMaintenance(
                    database: settings.database, command: "reprocess")
                plan = try Reprocessor.run(
                    names: names, allVersions: allVersions, dryRun: false, session: session)
            }
            emit(json ? plan.json() : plan.text())
        }
    }
}

/// `podpipectl revalidate`: current rules over all of bronze; silver and gold rebuilt.
struct Revalidate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-apply the current rules to all of bronze; rebuild silver, then gold.",
        discussion: """
            For a rule change (a new podpipe version) or a changed validation.future_skew. \
            Events are validated again in their original load order (the first valid row of \
            a natural key wins, as at load time), reference rows are replayed in order (the \
            latest file wins); the ledger's per-file counts follow; then gold is rebuilt in \
            full. One transaction: readers see the old layers or the new ones. Reports what \
            changed. Writes the database: needs the writer lock (stop the daemon first); \
            --dry-run computes the same report and rolls it back.
            """)

    @OptionGroup var common: CommonOptions

    @Flag(name: .customLong("dry-run"), help: "Compute what would change, then roll back.")
    var dryRun = false

    @Flag(name: .long, help: "One JSON object, for scripts.")
    var json = false

    func run() async throws {
        try await handling {
            let settings = try await common.load()
            let session = try WriterSession.forMaintenance(database: settings.database, command: "revalidate")
            let summary = try Revalidator(futureSkewSeconds: settings.futureSkew).run(
                session, dryRun: dryRun)
            emit(json ? summary.json() : summary.text())
        }
    }
}

/// `podpipectl refresh`: bring gold up to date now.
struct Refresh: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Refresh gold now.",
        discussion: """
            When no writer runs: refreshes gold in one transaction (incrementally, or fully \
            with --full) and prints what it did. When the daemon runs, it owns the database: \
            refresh sends it SIGUSR1, and it refreshes gold (when silver changed) as soon as \
            the current file is done. Another writer (a --once pass): exit 75.
            """)

    @OptionGroup var common: CommonOptions

    @Flag(name: .long, help: "Rebuild gold from all of silver, even if it is up to date.")
    var full = false

    @Flag(name: .long, help: "One JSON object, for scripts.")
    var json = false

    func run() async throws {
        try await handling {
            let settings = try await common.load()
            let writer = WriterSession.writerHolder(database: settings.database)
            if writer.held {
                // The running daemon owns the database: ask it (SIGUSR1) to refresh now.
                if let pid = try? DaemonControl.runningDaemonPID(database: settings.database),
                    writer.holder == "pid \(pid)"
                {
                    guard kill(pid_t(pid), SIGUSR1) == 0 else {
                        throw CLIError(
                            message:
                                "cannot signal the daemon (pid \(pid)): \(String(cString: strerror(errno)))",
                            code: PodpipeExit.anotherWriter)
                    }
                    emit(
                        json
                            ? #"{"signalled_daemon": \#(pid)}"#
                            : "asked the daemon (pid \(pid)) to refresh gold now; `podpipectl status` shows when it is done"
                    )
                    return
                }
                throw CLIError(
                    message:
                        "another writer holds \(settings.database)\(writer.holder.map { " (\($0))" } ?? ""), and it is not a running daemon (a `podpiped --once` pass?); it refreshes gold when it finishes. Try again afterwards.",
                    code: PodpipeExit.anotherWriter)
            }
            let session = try WriterSession.forMaintenance(database: settings.database, command: "refresh")
            let before = try await session.store.pool.read { db in try GoldRefresher.refreshedAt(db) }
            let summary = try session.refreshGold(full: full)
            let after = try await session.store.pool.read { db in try GoldRefresher.refreshedAt(db) }
            if json {
                emit(
                    """
                    {"mode": "\(summary.mode.rawValue)", "new_events": \(summary.newEvents), "duration_ms": \(summary.durationMs), \
                    "watermark_event_id": \(summary.toEventId), "refreshed_at": \(after.map { "\"\($0)\"" } ?? "null")}
                    """)
            } else if summary.mode == .none {
                emit(
                    "gold is up to date (refreshed \(before ?? "never")); nothing to do. --full rebuilds it anyway."
                )
            } else {
                emit(
                    "gold refreshed (\(summary.mode.rawValue)): \(summary.newEvents) silver event(s) folded in\(summary.referenceChanged ? ", reference data reconciled" : ""), \(summary.durationMs) ms; refreshed_at \(after ?? "?")"
                )
            }
        }
    }
}
