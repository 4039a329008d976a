import Foundation
import GRDB
import Logging

@testable import PodpipeCore

/// A fresh folder under the system's temporary directory for one test (`remove()` it in a
/// `defer`), with the writer store most tests open in it.
struct TemporaryFolder {
    let url: URL

    init(_ prefix: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "podpipe-\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The path of `name` in the folder.
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// A subfolder, created.
    func folder(_ name: String) throws -> String {
        let path = path(name)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The writer store on `db.sqlite` in the folder.
    func store() throws -> Store { try Store.openForWriting(path: path("db.sqlite")) }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// The writer's pass over a store as podpiped runs it (the ingest, then gold), without the
/// writer lock.
struct TestWriter {
    let session: WriterSession
    let pipeline: Pipeline
    var store: Store { session.store }

    init(
        store: Store, settings: PipelineSettings, logger: Logger,
        shouldStop: @escaping @Sendable () -> Bool = { false },
        goldPrefetchLimit: Int = GoldRefresher().chunkSize, gold: GoldRefresher = GoldRefresher()
    ) {
        session = WriterSession(
            store: store, logger: logger, goldPrefetchLimit: goldPrefetchLimit, gold: gold)
        pipeline = session.pipeline(settings, shouldStop: shouldStop)
    }

    func runOnce(ignoreBackoff: Bool = true, refreshGold: Bool = true) throws -> PassSummary {
        try session.runOnce(pipeline, ignoreBackoff: ignoreBackoff, refreshGold: refreshGold)
    }

    func pending(in listing: FolderListing, now: Date, ignoreBackoff: Bool) throws -> [Candidate] {
        try pipeline.pending(in: listing, now: now, ignoreBackoff: ignoreBackoff)
    }
}

/// A test trigger that fails the file `name` as its final ledger row is written (a transient
/// error, as a full disk would be): `DROP TRIGGER` the returned name to let it load.
@discardableResult
func failAtLedgerRow(of name: String, _ store: Store) throws -> String {
    let trigger =
        "test_fail_"
        + String(
            name.unicodeScalars.map {
                $0.properties.isAlphabetic || ("0"..."9").contains($0) ? Character($0) : "_"
            })
    try store.pool.write { db in
        try db.execute(
            sql: """
                CREATE TRIGGER \(trigger) BEFORE UPDATE OF state ON ingest_file
                WHEN NEW.name = '\(name)' AND NEW.state = 'loaded'
                BEGIN SELECT RAISE(ABORT, 'injected failure'); END
                """)
    }
    return trigger
}
