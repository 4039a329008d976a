import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// For the crash test only (`Tests/PodpipeIntegrationTests/CrashTests.swift`,
/// doc/reliability.md): `PODPIPE_CRASH_AT=<point>[:<n>]` makes the process kill itself with
/// SIGKILL the n-th time (default: the first) it reaches the named point, so that the test
/// knows a kill landed there (mid gold refresh, mid CSV upsert…) and not merely somewhere.
///
/// The variable is read once, at the first hook reached. Unset, as always in production, a
/// hook costs one branch on that cached flag. An unknown point or a bad count disarms it.
///
/// Points (each counted separately, over the whole process):
/// - `gold-refresh`: inside the gold refresh's transaction, after the aggregate writes and
///   before the answer tables and the watermark (full rebuild and incremental alike); once
///   per refresh that has something to do.
/// - `reference-upsert`: after a users/episodes CSV row was upserted into silver; once per
///   upserted row.
/// - `event-rows`: after an event row was written to bronze (and silver); once per row.
/// - `ledger-commit`: after a file's ledger row got its final state, just before the file's
///   transaction commits; once per file.
/// - `before-move`: after a file's transaction committed (and the WAL was synced), just
///   before the after-commit stage moves or deletes it (`ingest.after`); once per file.
/// - `commit-reply` (PostgreSQL; not a kill: ``strikes(_:)``): a write transaction of the
///   PostgreSQL store (a file's, a failure record, the daemon's row) sends its COMMIT, the
///   server's reply arrives, and the connection is then cut before the reply is read, as a
///   network failure would (`PostgresConnection.sendLosingReply`); once per COMMIT.
enum FaultInjection {
    enum Point: String, Sendable, CaseIterable {
        case goldRefresh = "gold-refresh"
        case referenceUpsert = "reference-upsert"
        case eventRows = "event-rows"
        case ledgerCommit = "ledger-commit"
        case beforeMove = "before-move"
        case commitReply = "commit-reply"
    }

    struct Target: Sendable, Equatable {
        var point: Point
        var count: Int
    }

    static let variable = "PODPIPE_CRASH_AT"

    /// The armed point and the count at which the process kills itself, or nil.
    static let target: Target? = parse(ProcessInfo.processInfo.environment[variable])

    /// The cached flag every hook tests.
    static let armed: Bool = target != nil

    private static let reached = Atomic<Int>(0)

    /// A hook: kills the process here when this is the armed point's n-th time.
    @inline(__always)
    static func reach(_ point: Point) {
        if armed { arrived(at: point) }
    }

    private static func arrived(at point: Point) {
        if strikes(point) {
            kill(getpid(), SIGKILL)
            _exit(137)  // not reached: SIGKILL to oneself is delivered before kill returns
        }
    }

    /// A point whose fault is not a kill: true when this is the armed point's n-th time
    /// (the caller then makes the fault happen), false otherwise and always when unarmed.
    @inline(__always)
    static func strikes(_ point: Point) -> Bool {
        guard armed, let target, target.point == point else { return false }
        return reached.wrappingAdd(1, ordering: .relaxed).newValue == target.count
    }

    /// `gold-refresh`, `event-rows:250`; nil for anything else.
    static func parse(_ text: String?) -> Target? {
        guard let text, !text.isEmpty else { return nil }
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let name = parts.first, let point = Point(rawValue: String(name)) else { return nil }
        guard parts.count == 2 else { return Target(point: point, count: 1) }
        guard let count = Int(parts[1]), count >= 1 else { return nil }
        return Target(point: point, count: count)
    }
}
