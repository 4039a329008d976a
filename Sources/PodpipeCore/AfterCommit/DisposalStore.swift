import Foundation

/// Where one settled file went, to be noted on its ledger entry (migration 0010).
struct Disposal: Sendable, Equatable {
    var fileId: Int64
    var destination: AfterCommitDestination
    /// The file's new path (nil when deleted).
    var path: String?
}

/// What the after-commit stage needs of a store (the store boundary of ``AfterCommitStage``,
/// which is written once above it): make every transaction committed so far durable before
/// a file leaves the drop folder, then note where the files went. SQLite's is ``Store``
/// (an fsync of the WAL), PostgreSQL's ``PostgresStore`` (a commit that waits for the
/// server's WAL flush); the SQL of both is the ledger's (`Ledger.recordDisposal`,
/// `PostgresLedger.recordDisposal`).
protocol DisposalStore: Sendable {
    /// Makes every committed transaction durable (it must outlive the move of its file,
    /// whatever fails after it: the process, the server, the power).
    func syncCommitted() throws
    /// Notes `disposals` on their ledger entries, in one transaction.
    func recordDisposals(_ disposals: [Disposal], at date: Date) throws
}

extension Store: DisposalStore {
    func recordDisposals(_ disposals: [Disposal], at date: Date) throws {
        try pool.write { db in
            for disposal in disposals {
                try Ledger.recordDisposal(
                    fileId: disposal.fileId, disposal.destination, path: disposal.path, at: date, db)
            }
        }
    }
}

extension PostgresStore: DisposalStore {
    /// A COMMIT returns once the server flushed its WAL only with `synchronous_commit` on
    /// (the default, but a role or database may turn it off for speed). So, whatever the
    /// setting: a transaction of its own that takes a transaction id (a read-only one
    /// writes no commit record and waits for nothing) and commits with
    /// `synchronous_commit = on`. Its commit record follows every earlier commit in the
    /// WAL, and the server flushes the WAL up to it before answering: every file committed
    /// so far is on the server's disk (and its synchronous standbys') before a file moves.
    func syncCommitted() throws {
        _ = try transaction { connection in
            try connection.execute("SET LOCAL synchronous_commit = on")
            try connection.query("SELECT txid_current()")
        }
    }

    func recordDisposals(_ disposals: [Disposal], at date: Date) throws {
        _ = try transaction { connection in
            for disposal in disposals {
                try PostgresLedger.recordDisposal(disposal, at: date, connection)
            }
        }
    }
}
