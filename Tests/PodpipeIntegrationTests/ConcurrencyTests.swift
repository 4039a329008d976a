import Foundation
import GRDB
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Readers while `podpiped --once` ingests many small files: `podpipectl status --json` and
/// a report never fail, and every read sees whole files only (each loaded file's silver rows
/// all there, silver = the ledger's loaded rows) and a whole gold (the day aggregates'
/// events = the silver events up to gold's watermark).
@Suite("Concurrent readers during ingest")
struct ConcurrencyTests {
    @Test("podpipectl and SQL readers in a loop while 300 files load")
    func readersNeverSeeHalfLoadedFiles() throws {
        let files = Int(ProcessInfo.processInfo.environment["PODPIPE_CONCURRENCY_FILES"] ?? "") ?? 300
        let sandbox = try Sandbox()
        for i in 0..<files {
            try sandbox.drop(
                String(format: "events-%05d.json", i), FaultTests.events(20, start: i * 20),
                mtime: 1_700_000_000 + Double(i))
        }
        // A database to read from the start: a first pass over another folder with one file.
        let seed = sandbox.root.appendingPathComponent("seed").path
        try FileManager.default.createDirectory(atPath: seed, withIntermediateDirectories: true)
        try FaultTests.events(1, start: 10_000_000).write(to: URL(fileURLWithPath: seed + "/a-first.json"))
        let first = try BoundedRun.run(
            "podpiped", ["--data-load", seed, "--database", sandbox.database, "--once"], timeout: 60)
        #expect(first.status == 0, "\(first.stderr.suffix(500))")

        let done = Atomic<Bool>(false)
        let dataLoad = sandbox.dataLoad
        let database = sandbox.database
        nonisolated(unsafe) var ingest: BoundedRun?
        let group = DispatchGroup()
        group.enter()
        Thread {
            ingest = try? BoundedRun.run(
                "podpiped", ["--data-load", dataLoad, "--database", database, "--once"], timeout: 600)
            done.store(true, ordering: .sequentiallyConsistent)
            group.leave()
        }.start()

        var reads = 0
        var ctlRuns = 0
        var problems: [String] = []
        let queue = try DatabaseQueue(path: database)
        while !done.load(ordering: .sequentiallyConsistent) || reads == 0 {
            let snapshot = try queue.read { db -> (Int, Int, Int, Int, Int) in
                let silver = try Int.fetchOne(db, sql: "SELECT count(*) FROM silver_event") ?? -1
                let ledger =
                    try Int.fetchOne(
                        db,
                        sql: "SELECT COALESCE(sum(rows_loaded), 0) FROM ingest_file WHERE state = 'loaded'")
                    ?? -2
                let partial =
                    try Int.fetchOne(
                        db,
                        sql: """
                            SELECT count(*) FROM ingest_file f WHERE f.state = 'loaded' AND f.rows_loaded <>
                                (SELECT count(*) FROM silver_event s WHERE s.file_id = f.file_id)
                            """) ?? -3
                // Gold covers exactly the silver events up to its watermark (never a part).
                let facts =
                    try Int.fetchOne(
                        db,
                        sql: """
                            SELECT count(*) FROM silver_event WHERE event_id <=
                                COALESCE((SELECT CAST(value AS INTEGER) FROM pipeline_state
                                          WHERE key = 'gold.watermark_event_id'), 0)
                            """) ?? -4
                let dayEvents =
                    try Int.fetchOne(db, sql: "SELECT COALESCE(sum(events), 0) FROM gold_agg_day") ?? -5
                return (silver, ledger, partial, facts, dayEvents)
            }
            reads += 1
            if snapshot.0 != snapshot.1 { problems.append("silver \(snapshot.0) ≠ ledger \(snapshot.1)") }
            if snapshot.2 != 0 { problems.append("\(snapshot.2) half-loaded file(s)") }
            if snapshot.3 != snapshot.4 {
                problems.append("gold: silver up to the watermark \(snapshot.3) ≠ day events \(snapshot.4)")
            }
            if reads % 10 == 0 {
                ctlRuns += 1
                let status = try sandbox.ctl(["status", "--json"])
                let parsed = try? JSONSerialization.jsonObject(with: Data(status.stdout.utf8))
                if parsed == nil { problems.append("status --json unparsable (exit \(status.status))") }
                let report = try Binaries.run(
                    "podpipectl", ["--database", database, "report", "top-episodes"])
                if report.status != 0 { problems.append("report failed: \(report.stderr.prefix(300))") }
            }
            if problems.count > 5 { break }
        }
        group.wait()
        print(
            "concurrency: \(reads) snapshot reads and \(ctlRuns) podpipectl rounds during the ingest of \(files) files"
        )
        #expect(problems == [])
        #expect(ingest?.status == 0, "\(ingest?.stderr.suffix(1000) ?? "")")
        #expect(try sandbox.query("SELECT count(*) FROM ingest_file WHERE state = 'loaded'") == files + 1)
        #expect(try invariantViolations(database) == [])
    }
}
