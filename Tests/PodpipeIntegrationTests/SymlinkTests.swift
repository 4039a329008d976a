import Foundation
import GRDB
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Symbolic links in the drop folder (SPEC §7): one that leaves the folder is recorded
/// `rejected` without its target being opened, once per version of the link; re-pointed,
/// it is a new version.
@Suite("symbolic links in the drop folder", .serialized)
struct SymlinkTests {
    @Test func aLinkLeavingTheFolderIsRejectedOncePerVersion() throws {
        let box = try Sandbox()
        try box.drop("real.json", eventLines(5, seed: 1), mtime: 1_700_000_000)
        let link = box.dataLoad + "/passwd.json"
        #expect(symlink("/etc/passwd", link) == 0)
        try RawPath.touch(folder: box.dataLoad, name: Array("passwd.json".utf8), mtime: 1_700_000_100)
        for _ in 0..<3 {
            let run = try box.podpiped()
            #expect(run.status == 0, "\(run.stderr.suffix(2000))")
        }
        let rows = try box.ledger("passwd.json")
        #expect(rows.count == 1, "one rejected row for the link, not one per pass")
        let row = try #require(rows.first)
        #expect(row["state"] == "rejected")
        #expect(row["rows_read"] == 0)
        let message: String = row["message"] ?? ""
        #expect(
            message.contains("symbolic link to a path outside the drop folder (/etc/passwd); not read"),
            "\(message)")
        #expect((row["sha256"] as String?)?.hasPrefix("unreadable:") == true)
        #expect(try box.query("SELECT count(*) FROM bronze_event WHERE raw LIKE '%root:%'") == 0)

        // status: counted as rejected, not listed as ignored; the reason among the last errors.
        let status = try box.ctl(["status", "--json"])
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        #expect((object["files"] as? [String: Any])?["rejected"] as? Int == 1, "\(status.stdout)")
        #expect((object["ignored_names"] as? [String])?.contains { $0.hasPrefix("passwd.json") } == false)
        let errors = object["last_errors"] as? [[String: Any]] ?? []
        #expect(errors.contains { ($0["file"] as? String) == "passwd.json" }, "\(status.stdout)")

        // Re-pointed inside the folder: a new version of the name, read like any link inside
        // (here the same bytes as real.json: a duplicate).
        #expect(unlink(link) == 0)
        #expect(symlink("real.json", link) == 0)
        try RawPath.touch(folder: box.dataLoad, name: Array("passwd.json".utf8), mtime: 1_700_000_200)
        #expect(try box.podpiped().status == 0)
        let states = try box.ledger("passwd.json").map { $0["state"] as String }
        #expect(states == ["rejected", "duplicate"])
        #expect(try box.query("SELECT count(*) FROM silver_event") == 5)
    }
}
