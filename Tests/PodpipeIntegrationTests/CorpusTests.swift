import Foundation
import GRDB
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Every hostile input of `Tests/Corpus/manifest.json` through the real `podpiped --once`:
/// the process exits normally within its time limit, each file's ledger state, row counts
/// and reason are the expected ones, the §4.2 invariant holds, ignored entries are shown by
/// `podpipectl status` with their reason, and nothing outside the folder is read.
@Suite("Hostile-input corpus", .serialized)
struct CorpusTests {
    static let cases: [CorpusCase] = (try? CorpusManifest.load().cases) ?? []

    @Test("the manifest loads and holds at least 40 cases")
    func manifestLoads() throws {
        let manifest = try CorpusManifest.load()
        #expect(manifest.cases.count >= 40)
        #expect(Set(manifest.cases.map(\.id)).count == manifest.cases.count, "case ids are unique")
    }

    @Test("podpiped --once on a corpus case", arguments: cases)
    func corpusCase(_ corpusCase: CorpusCase) throws {
        let sandbox = try Sandbox()
        try place(corpusCase, in: sandbox)
        let run = try BoundedRun.run(
            "podpiped", ["--data-load", sandbox.dataLoad, "--database", sandbox.database, "--once"],
            timeout: corpusCase.timeout ?? 120)
        #expect(!run.timedOut, "podpiped --once did not finish within its time limit")
        #expect(
            run.status == (corpusCase.exit ?? 0),
            "exit status \(run.status); stderr:\n\(run.stderr.suffix(2000))")
        let ledger = try LedgerRow.all(sandbox.database)
        #expect(
            ledger.count == corpusCase.expect.count,
            "ledger: \(ledger.map { "\($0.name)=\($0.state)" })")
        for expected in corpusCase.expect {
            let matching = ledger.filter { $0.name == expected.name }
            guard let row = matching.last else {
                Issue.record(
                    "no ledger row for \(expected.name.debugDescription); ledger: \(ledger.map(\.name))")
                continue
            }
            #expect(matching.count == 1, "\(expected.name): one ledger row")
            #expect(row.state == expected.state, "\(expected.name): \(row.message) / \(row.firstError)")
            if let read = expected.read { #expect(row.read == read, "\(expected.name): rows read") }
            if let loaded = expected.loaded { #expect(row.loaded == loaded, "\(expected.name): rows loaded") }
            if let rejected = expected.rejected {
                #expect(row.rejected == rejected, "\(expected.name): rows rejected")
            }
            if let duplicate = expected.duplicate {
                #expect(row.duplicate == duplicate, "\(expected.name): duplicates")
            }
            if let reason = expected.reason {
                #expect(
                    row.message.contains(reason) || row.firstError.contains(reason),
                    "\(expected.name): reason \(reason.debugDescription) not in \(row.message.debugDescription) / \(row.firstError.debugDescription)"
                )
            }
            if let codes = expected.firstError {
                #expect(row.firstError.contains(codes), "\(expected.name): first error \(row.firstError)")
            }
            if row.state == "rejected" || row.state == "failed" {
                #expect(
                    !row.message.isEmpty || !row.firstError.isEmpty, "\(expected.name): a reason is recorded")
            }
        }
        #expect(try invariantViolations(sandbox.database) == [])
        // Nothing from outside the folder made it into bronze.
        let leaked =
            try sandbox.query(
                "SELECT count(*) FROM bronze_event WHERE raw LIKE '%root:%:0:0:%'", as: Int.self) ?? -1
        #expect(leaked == 0, "/etc/passwd content in bronze")
        if let ignored = corpusCase.ignored, !ignored.isEmpty {
            let status = try sandbox.ctl(["status", "--json"])
            let object = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            let names = object?["ignored_names"] as? [String] ?? []
            for entry in ignored {
                #expect(
                    names.contains { $0.hasPrefix(entry.name + ":") && $0.contains(entry.reason) },
                    "\(entry.name) ignored with \(entry.reason.debugDescription); status: \(names)")
            }
        }
        // A second pass settles nothing new: every outcome is final (no file loaded twice).
        let again = try BoundedRun.run(
            "podpiped", ["--data-load", sandbox.dataLoad, "--database", sandbox.database, "--once"],
            timeout: corpusCase.timeout ?? 120)
        #expect(!again.timedOut && again.status == (corpusCase.exit ?? 0))
        let after = try LedgerRow.all(sandbox.database)
        #expect(
            after.filter { $0.state != "failed" }.map(\.fileId)
                == ledger.filter { $0.state != "failed" }.map(\.fileId),
            "the second pass changed the ledger")
    }

    /// Creates the case's entries in the drop folder, oldest first in list order.
    private func place(_ corpusCase: CorpusCase, in sandbox: Sandbox) throws {
        let base = 1_700_000_000.0
        for (index, input) in corpusCase.files.enumerated() {
            let mtime = input.mtime ?? base + Double(index) * 10
            let name: [UInt8] =
                if let hex = input.nameHex { try RawPath.bytes(hex: hex) } else {
                    Array((input.name ?? "").utf8)
                }
            let path = RawPath.cString(sandbox.dataLoad, name)
            switch input.gen {
            case "fifo":
                guard mkfifo(path, 0o644) == 0 else { throw CorpusError.posix("mkfifo", errno) }
            case "directory":
                guard mkdir(path, 0o755) == 0 else { throw CorpusError.posix("mkdir", errno) }
                try Data("{}\n".utf8).write(
                    to: URL(fileURLWithPath: sandbox.dataLoad + "/" + (input.name ?? "") + "/inner.json"))
            case let gen? where gen.hasPrefix("symlink:"):
                let target = String(gen.dropFirst("symlink:".count))
                guard symlink(target, path) == 0 else { throw CorpusError.posix("symlink", errno) }
                try RawPath.touch(folder: sandbox.dataLoad, name: name, mtime: mtime)
            case let gen?:
                try RawPath.write(
                    CorpusGenerator.bytes(gen), folder: sandbox.dataLoad, name: name, mtime: mtime)
            case nil:
                let source = CorpusManifest.directory.appendingPathComponent("files")
                    .appendingPathComponent(input.from ?? input.name ?? "")
                try RawPath.write(
                    Data(contentsOf: source), folder: sandbox.dataLoad, name: name, mtime: mtime)
            }
        }
    }
}
