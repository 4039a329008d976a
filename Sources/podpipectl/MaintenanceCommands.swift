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
            folder. Writes the database: run by podpipectl when no writer runs, or handed \
            to the running daemon, which runs it after the current file (and then loads the \
            files again); podpipectl waits for the result (--no-wait: returns at once). \
            --dry-run only reads. On a PostgreSQL database podpipectl runs it itself, beside \
            any running daemon (no hand-off): the names are this host's, in its drop folder, \
            and the pass of this host's daemon loads the files again.
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

    @OptionGroup var handOff: HandOffOptions

    func validate() throws {
        if names.isEmpty { throw ValidationError("name at least one file to reprocess") }
    }

    func run() async throws {
        try await handling {
            let settings = try await common.load()
            if settings.databaseIsPostgreSQL {
                // The server: the plan and the command each in one transaction of their own
                // (unknown names are refused before anything is written).
                if dryRun {
                    let plan = try MaintenanceCommand.reprocessPlan(
                        names: names, allVersions: allVersions, onPostgreSQL: settings)
                    emit(json ? plan.json() : plan.text())
                    return
                }
                try await runAsWriter(
                    .reprocess(names: names, allVersions: allVersions), settings: settings, json: json,
                    handOff: handOff)
                return
            }
            // The plan first, read-only: unknown names are refused without touching the
            // database (not even a WAL checkpoint).
            let store = try common.openStore(settings)
            let plan = try await store.pool.read { db in
                try Reprocessor.plan(names: names, allVersions: allVersions, dryRun: true, in: db)
            }
            if dryRun {
                emit(json ? plan.json() : plan.text())
                return
            }
            try await runAsWriter(
                .reprocess(names: names, allVersions: allVersions), settings: settings, json: json,
                handOff: handOff)
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
            changed. Writes the database: run by podpipectl when no writer runs, or handed \
            to the running daemon, which runs it after the current file; podpipectl waits \
            for the result (--no-wait: returns at once). --dry-run computes the same report \
            and rolls it back. On a PostgreSQL database podpipectl runs it itself, beside any \
            running daemon (no hand-off): every host's loads wait for its transaction.
            """)

    @OptionGroup var common: CommonOptions

    @Flag(name: .customLong("dry-run"), help: "Compute what would change, then roll back.")
    var dryRun = false

    @Flag(name: .long, help: "One JSON object, for scripts.")
    var json = false

    @OptionGroup var handOff: HandOffOptions

    func run() async throws {
        try await handling {
            let settings = try await common.load()
            try await runAsWriter(
                .revalidate(dryRun: dryRun, futureSkewSeconds: settings.futureSkew),
                settings: settings, json: json, handOff: handOff)
        }
    }
}

/// `podpipectl refresh`: bring gold up to date now.
struct Refresh: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Refresh gold now.",
        discussion: """
            Refreshes gold in one transaction (incrementally when silver changed, or fully \
            with --full) and prints what it did. When the daemon runs, it owns the database: \
            the refresh is handed to it, it runs it after the current file, and podpipectl \
            waits for the result (--no-wait: returns at once). Another writer (a --once \
            pass): exit 75. On a PostgreSQL database podpipectl refreshes itself, beside any \
            running daemon (no hand-off; one refresh at a time across hosts).
            """)

    @OptionGroup var common: CommonOptions

    @Flag(name: .long, help: "Rebuild gold from all of silver, even if it is up to date.")
    var full = false

    @Flag(name: .long, help: "One JSON object, for scripts.")
    var json = false

    @OptionGroup var handOff: HandOffOptions

    func run() async throws {
        try await handling {
            let settings = try await common.load()
            try await runAsWriter(
                .refresh(full: full), settings: settings, json: json, handOff: handOff)
        }
    }
}

/// How a maintenance command waits for the daemon it is handed to.
struct HandOffOptions: ParsableArguments {
    @Flag(
        name: .customLong("no-wait"),
        help: "When the daemon runs the command: return once it is handed over, without the result.")
    var noWait = false

    @Option(
        name: .customLong("wait-timeout"),
        help: "When the daemon runs the command: give up waiting after this many seconds (0: no limit).")
    var waitTimeout: Int = 0

    func validate() throws {
        if waitTimeout < 0 || waitTimeout > 31_622_400 {
            throw ValidationError("--wait-timeout must be between 0 and 31622400 seconds")
        }
    }
}

/// Runs `command` as the database's writer. SQLite: here, when no writer holds the database;
/// handed to the running daemon (``MaintenanceMailbox``) when it does, waiting for its result
/// unless `--no-wait`. PostgreSQL: here, always, beside any running daemon (the server
/// serves many writers; the command takes the locks it needs). Prints the result; a failed
/// command ends with its exit code.
func runAsWriter(_ command: MaintenanceCommand, settings: PodpipeConfig, json: Bool, handOff: HandOffOptions)
    async throws
{
    let database = settings.database
    let writer =
        settings.databaseIsPostgreSQL
        ? (held: false, holder: nil) : WriterSession.writerHolder(database: database)
    let result: MaintenanceResult
    if settings.databaseIsPostgreSQL {
        result = try command.run(onPostgreSQL: settings)
    } else if writer.held {
        guard let pid = try? DaemonControl.runningDaemonPID(database: database), writer.holder == "pid \(pid)"
        else {
            throw CLIError(
                message:
                    "another writer holds \(database)\(writer.holder.map { " (\($0))" } ?? ""), and it is not a running daemon (a `podpiped --once` pass?); try `podpipectl \(command.name)` again when it has finished",
                code: PodpipeExit.anotherWriter)
        }
        let mailbox = MaintenanceMailbox(database: database)
        let id = try mailbox.submit(command)
        guard kill(pid_t(truncatingIfNeeded: pid), SIGUSR1) == 0 else {
            let reason = String(cString: strerror(errno))
            _ = mailbox.withdraw(id)
            throw CLIError(
                message: "cannot signal the daemon (pid \(pid)): \(reason)", code: PodpipeExit.anotherWriter)
        }
        if handOff.noWait {
            emit(
                json
                    ? #"{"signalled_daemon": \#(pid), "request": "\#(id)"}"#
                    : "handed `podpipectl \(command.name)` to the daemon (pid \(pid)), request \(id); it runs after the current file: the daemon's log and `podpipectl status` show when it is done"
            )
            return
        }
        let started = Date()
        while true {
            if let answer = mailbox.takeResult(id) {
                result = answer
                break
            }
            let waited = Date().timeIntervalSince(started)
            let daemonGone = kill(pid_t(truncatingIfNeeded: pid), 0) != 0 && errno == ESRCH
            if daemonGone || (handOff.waitTimeout > 0 && waited > Double(handOff.waitTimeout)) {
                let withdrawn = mailbox.withdraw(id)
                if daemonGone {
                    throw CLIError(
                        message:
                            "the daemon (pid \(pid)) stopped before it answered `podpipectl \(command.name)`\(withdrawn ? "; the request was withdrawn: run the command again" : "")",
                        code: PodpipeExit.anotherWriter)
                }
                throw MaintenanceError.noAnswer(
                    command: command.name, pid: pid, seconds: handOff.waitTimeout, withdrawn: withdrawn)
            }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
    } else {
        let session = try WriterSession.forMaintenance(database: database, command: command.name)
        result = try command.run(on: session)
    }
    guard result.exitCode == PodpipeExit.success else {
        throw CLIError(message: result.text, code: result.exitCode)
    }
    emit(json ? result.json : result.text)
}

/// `podpipectl prune`: retention of bronze.
struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete the bronze rows of valid lines of event files loaded before a date.",
        discussion: """
            Deletes the bronze_event rows of the valid lines (outcome silver or duplicate) of \
            event files recorded loaded before --bronze-before; their rejected rows, silver, \
            gold, the ledger and reference files' bronze stay. In batches, each its own short \
            transaction; when the daemon runs it is handed to it, which works on it about a \
            second at a time between files (on a PostgreSQL database podpipectl runs it \
            itself, beside any running daemon: no hand-off). revalidate then keeps the silver rows of pruned \
            files as they are (their lines are gone). The space is reused by new loads; VACUUM \
            (daemon stopped) returns it to the system.
            """)

    @OptionGroup var common: CommonOptions

    @Option(
        name: .customLong("bronze-before"),
        help: "Files loaded before this: a UTC day (2024-05-01), a timestamp, or an age (90d, 12w).")
    var bronzeBefore: String

    @Flag(name: .long, help: "One JSON object, for scripts.")
    var json = false

    @OptionGroup var handOff: HandOffOptions

    func run() async throws {
        try await handling {
            let settings = try await common.load()
            let before = try SinceParser.parse(bronzeBefore)
            try await runAsWriter(
                .prune(loadedBefore: before), settings: settings, json: json, handOff: handOff)
        }
    }
}
