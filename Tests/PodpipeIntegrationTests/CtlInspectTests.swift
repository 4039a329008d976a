import Foundation
import PodpipeSampleData
import Testing

// `podpipectl files`, `rejects`, `validate` against the real binaries, on databases built
// by the real `podpiped --once` from generated data whose manifest says what to expect.

@Suite("podpipectl files")
struct CtlFilesTests {
    @Test func theLedgerNewestFirstWithTheManifestCounts() throws {
        let box = try Sandbox()
        let manifest = try box.loadSample(ctlSpec(edgeCases: true))
        let run = try box.ctl(["files", "--format", "csv"])
        #expect(run.status == 0, "\(run.stderr)")
        let rows = csvRows(run.stdout)
        let header = try #require(rows.first)
        #expect(
            Array(header.prefix(13)) == [
                "file_id", "name", "kind", "state", "rows_read", "rows_loaded", "rows_rejected",
                "rows_duplicate", "first_error", "first_error_line", "started_at", "finished_at",
                "duration_ms",
            ])
        func column(_ name: String) throws -> Int { try #require(header.firstIndex(of: name)) }
        let body = Array(rows.dropFirst())
        // Every non-ignored file of the folder, once.
        let expectedNames = Set(manifest.fileStates.filter { $0.value != "ignored" }.keys)
        #expect(Set(body.map { $0[1] }) == expectedNames)
        #expect(body.count == expectedNames.count)
        // Newest first: file ids descending (all finished within the same pass).
        let ids = body.compactMap { Int($0[0]) }
        #expect(ids == ids.sorted(by: >))
        for row in body {
            let name = row[1]
            #expect(row[try column("state")] == manifest.fileStates[name], "\(name)")
            guard let detail = manifest.detail(for: name), detail.kind != "other" else { continue }
            #expect(row[try column("rows_read")] == String(detail.rows), "\(name)")
            #expect(row[try column("rows_loaded")] == String(detail.loaded), "\(name)")
            #expect(row[try column("rows_rejected")] == String(detail.rejected), "\(name)")
            #expect(row[try column("rows_duplicate")] == String(detail.duplicates), "\(name)")
            #expect(
                row[try column("first_error_line")] == (detail.firstRejectedLine.map(String.init) ?? ""),
                "\(name)")
        }
        // A duplicate says of what.
        let copy = try #require(body.first { $0[try column("state")] == "duplicate" })
        #expect(copy[try column("message")].contains("same bytes as"))
    }

    @Test func filtersByStateKindAndTime() throws {
        let box = try Sandbox()
        let manifest = try box.loadSample(ctlSpec(edgeCases: true))
        let rejected = try box.ctl(["files", "--state", "rejected", "--format", "csv"])
        #expect(rejected.status == 0, "\(rejected.stderr)")
        let names = Set(csvRows(rejected.stdout).dropFirst().map { $0[1] })
        #expect(names == Set(manifest.fileStates.filter { $0.value == "rejected" }.keys))
        #expect(names.contains("events-binary.ndjson"))

        let users = try box.ctl(["files", "--kind", "users", "--format", "json"])
        let objects = try #require(try jsonValue(users.stdout) as? [[String: Any]])
        #expect(objects.count == manifest.fileDetails.filter { $0.kind == "users" }.count)
        #expect(objects.allSatisfy { $0["kind"] as? String == "users" })
        #expect(objects.first?["rows_read"] is Int)

        let recent = try box.ctl(["files", "--since", "1h", "--format", "csv"])
        #expect(
            csvRows(recent.stdout).count == csvRows(try box.ctl(["files", "--format", "csv"]).stdout).count)
        let future = try box.ctl(["files", "--since", "2099-01-01", "--format", "csv"])
        #expect(future.status == 0)
        #expect(csvRows(future.stdout).count == 1)  // the header only
        let limited = try box.ctl(["files", "--limit", "2", "--format", "csv"])
        #expect(csvRows(limited.stdout).count == 3)

        let bad = try box.ctl(["files", "--since", "yesterday"])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("invalid --since"))
        let badState = try box.ctl(["files", "--state", "done"])
        #expect(badState.status == 64)
    }

    @Test func theTableIsAlignedAndReadable() throws {
        let box = try Sandbox()
        _ = try box.loadSample(ctlSpec(edgeCases: true))
        let run = try box.ctl(["files"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let header = try #require(lines.first)
        #expect(header.hasPrefix("id"))
        for title in ["name", "state", "read", "loaded", "rejected", "first error / note", "finished (UTC)"] {
            #expect(header.contains(title), "\(title)")
        }
        // The rule under the header has a dash run per column, and every state cell starts
        // where the state column starts.
        #expect(lines[1].allSatisfy { $0 == "-" || $0 == " " })
        let stateColumn = try #require(header.range(of: "state")).lowerBound.utf16Offset(in: header)
        for line in lines.dropFirst(2) {
            let cell = line.utf16.dropFirst(stateColumn).prefix(9)
            let text = String(decoding: cell, as: UTF16.self)
            #expect(["loaded", "rejected", "duplicate", "failed"].contains { text.hasPrefix($0) }, "\(line)")
            #expect(!line.hasSuffix(" "))
        }
    }
}

@Suite("podpipectl rejects")
struct CtlRejectsTests {
    @Test func everyRejectedRowWithItsCodesAndRawText() throws {
        let box = try Sandbox()
        let manifest = try box.loadSample()
        let all = try box.ctl(["rejects", "--limit", "0", "--format", "csv"])
        #expect(all.status == 0, "\(all.stderr)")
        let rows = csvRows(all.stdout)
        #expect(rows.first == ["file_id", "file", "kind", "line", "codes", "raw"])
        let referenceRejects = manifest.referenceRejects.count
        #expect(rows.count - 1 == manifest.expectedRejectedEvents + referenceRejects)

        // One plain event file, line by line against its bytes.
        let detail = try #require(
            manifest.fileDetails.first {
                $0.kind == "events" && !$0.gzip && $0.rejected > 0 && !$0.crlf && !$0.bom
            })
        let fileRun = try box.ctl(["rejects", "--file", detail.name, "--limit", "0", "--format", "json"])
        #expect(fileRun.status == 0, "\(fileRun.stderr)")
        let objects = try #require(try jsonValue(fileRun.stdout) as? [[String: Any]])
        #expect(objects.count == detail.rejected)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: box.dataLoad + "/" + detail.name))
        let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        for object in objects {
            let line = try #require(object["line"] as? Int)
            #expect(object["file"] as? String == detail.name)
            #expect(object["raw"] as? String == lines[line - 1], "line \(line)")
            #expect((object["codes"] as? String)?.isEmpty == false)
        }
        #expect(objects.first?["line"] as? Int == detail.firstRejectedLine)
    }

    @Test func filterByCodeMatchesTheManifestCounts() throws {
        let box = try Sandbox()
        let manifest = try box.loadSample()
        for (code, expected) in manifest.expectedCodeCounts where expected > 0 {
            let run = try box.ctl(["rejects", "--code", code, "--limit", "0", "--format", "csv"])
            #expect(run.status == 0, "\(run.stderr)")
            let body = csvRows(run.stdout).dropFirst()
            let events = body.filter { $0[2] == "events" }
            #expect(events.count == expected, "\(code)")
            #expect(body.allSatisfy { $0[4].split(separator: ",").contains(Substring(code)) })
        }
        let limited = try box.ctl(["rejects", "--limit", "5"])
        #expect(limited.status == 0)
        #expect(limited.stdout.split(separator: "\n").count == 7)  // header, rule, 5 rows
        #expect(limited.stderr.contains("first 5 rows"))
    }

    @Test func summaryCountsByCodeAndByFile() throws {
        let box = try Sandbox()
        let manifest = try box.loadSample()
        let run = try box.ctl(["rejects", "--summary", "--format", "json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(try jsonValue(run.stdout) as? [String: Any])
        let byCode = try #require(object["by_code"] as? [[String: Any]])
        var eventCodes: [String: Int] = [:]
        for row in byCode where row["kind"] as? String == "events" {
            eventCodes[row["code"] as? String ?? ""] = row["rows"] as? Int
        }
        #expect(eventCodes == manifest.expectedCodeCounts.filter { $0.value > 0 })
        let byFile = try #require(object["by_file"] as? [[String: Any]])
        for detail in manifest.fileDetails where detail.rejected > 0 {
            let row = byFile.first { $0["file"] as? String == detail.name }
            #expect(row?["rejected"] as? Int == detail.rejected, "\(detail.name)")
        }
        let table = try box.ctl(["rejects", "--summary"])
        #expect(table.stdout.hasPrefix("by code\n"))
        #expect(table.stdout.contains("\nby file\n"))
    }

    @Test func unknownFileOrCodeIsAClearError() throws {
        let box = try Sandbox()
        _ = try box.loadSample()
        let file = try box.ctl(["rejects", "--file", "events-0001"])
        #expect(file.status == 1)
        #expect(file.stderr.contains("no file named \"events-0001\""))
        #expect(file.stderr.contains("did you mean events-0001"))
        let code = try box.ctl(["rejects", "--code", "missing_userid"])
        #expect(code.status == 64)
        #expect(code.stderr.contains("unknown validation code"))
    }
}

@Suite("podpipectl validate")
struct CtlValidateTests {
    private func event(_ type: String, _ user: String, _ episode: String, _ ts: String, _ duration: String)
        -> String
    {
        #"{"event_type": "\#(type)", "user_id": "\#(user)", "episode_id": "\#(episode)", "timestamp": "\#(ts)", "duration": \#(duration)}"#
    }

    @Test func predictsWhatPodpipedRecordsAndWritesNothing() throws {
        let box = try Sandbox()
        let manifest = try box.loadSample()
        // A new file: fresh events, bad rows, and events already in silver (duplicates).
        let known = try box.rows(
            "SELECT raw FROM bronze_event WHERE outcome = 'silver' ORDER BY bronze_id LIMIT 3"
        )
        .compactMap { $0["raw"] as String? }
        let lines =
            [
                event("play", "user_1", "ep_1", "2024-02-01T10:00:00Z", "120"),
                event("complete", "user_1", "ep_1", "2024-02-01T10:30:00+02:00", "\"600\""),
                event("download", "user_2", "ep_1", "2024-02-01T11:00:00", "null"),
                #"{"event_type": "play", "user_id": null"#,
                event("pause", "user_2", "ep_2", "malformed-date", "5"),
                event("play", "user_1", "ep_1", "2024-02-01T10:00:00Z", "999"),
            ] + known
        let staging = box.root.appendingPathComponent("staging").path
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        let path = staging + "/late.ndjson"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)

        let before = try sha256(ofFile: box.database)
        let run = try box.ctl(["validate", path, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try sha256(ofFile: box.database) == before)
        let report = try #require(try jsonValue(run.stdout) as? [String: Any])
        let file = try #require((report["files"] as? [[String: Any]])?.first)
        #expect(file["outcome"] as? String == "loaded")
        #expect(file["rows_read"] as? Int == 9)
        #expect(file["rows_loaded"] as? Int == 2)
        #expect(file["rows_rejected"] as? Int == 3)
        #expect(file["rows_duplicate"] as? Int == 4)  // one within the file, three from silver
        #expect(file["first_error_line"] as? Int == 3)
        let codes = try #require(file["code_counts"] as? [String: Int])
        #expect(
            codes == [
                "invalid_event_type": 1, "malformed_json": 1, "invalid_timestamp": 1,
                "non_null_duration_for_other_event": 1,
            ])
        let rejects = try #require(file["rejects"] as? [[String: Any]])
        #expect(rejects.map { $0["line"] as? Int } == [3, 4, 5])
        #expect(rejects[1]["raw"] as? String == #"{"event_type": "play", "user_id": null"#)

        // Then the real thing records exactly that.
        try FileManager.default.moveItem(atPath: path, toPath: box.dataLoad + "/late.ndjson")
        #expect(try box.podpiped().status == 0)
        let ledger = try #require(try box.rows("SELECT * FROM ingest_file WHERE name = 'late.ndjson'").first)
        #expect(ledger["state"] == "loaded")
        #expect(ledger["rows_read"] == 9)
        #expect(ledger["rows_loaded"] == 2)
        #expect(ledger["rows_rejected"] == 3)
        #expect(ledger["rows_duplicate"] == 4)
        #expect(ledger["first_error_line"] == 3)
        #expect(ledger["first_error"] == file["first_error"] as? String)
        _ = manifest
    }

    @Test func filesAlreadyInTheLedgerAndCopiesAndBadFiles() throws {
        let box = try Sandbox()
        let manifest = try box.loadSample()
        let loaded = try #require(manifest.fileDetails.first { $0.kind == "events" })
        let staging = box.root.appendingPathComponent("staging").path
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: box.dataLoad + "/" + loaded.name, toPath: staging + "/renamed-" + loaded.name)
        try Data([0x89, 0x50, 0x4E, 0x47, 0, 0, 0, 0]).write(
            to: URL(fileURLWithPath: staging + "/picture.json"))
        try "hello".write(toFile: staging + "/notes.txt", atomically: true, encoding: .utf8)
        try "episode_id,title\nep_1,x\n".write(
            toFile: staging + "/episodes-bad.csv", atomically: true, encoding: .utf8)

        let before = try sha256(ofFile: box.database)
        let run = try box.ctl([
            "validate", box.dataLoad + "/" + loaded.name, staging + "/renamed-" + loaded.name,
            staging + "/picture.json", staging + "/notes.txt", staging + "/episodes-bad.csv", "--json",
        ])
        #expect(run.status == 1)  // files would be rejected or ignored
        #expect(try sha256(ofFile: box.database) == before)
        let report = try #require(try jsonValue(run.stdout) as? [String: Any])
        let files = try #require(report["files"] as? [[String: Any]])
        func outcome(_ name: String) -> (String?, String?) {
            let file = files.first { $0["name"] as? String == name }
            return (file?["outcome"] as? String, file?["message"] as? String)
        }
        #expect(outcome(loaded.name).0 == "unchanged")
        #expect(outcome("renamed-" + loaded.name).0 == "duplicate")
        #expect(outcome("renamed-" + loaded.name).1?.contains("same bytes as \(loaded.name)") == true)
        #expect(outcome("picture.json").0 == "rejected")
        #expect(outcome("picture.json").1?.contains("binary") == true)
        #expect(outcome("notes.txt").0 == "ignored")
        #expect(outcome("episodes-bad.csv").0 == "rejected")
        #expect(outcome("episodes-bad.csv").1?.contains("release_date") == true)

        // The text report names each file and what would happen.
        let text = try box.ctl(["validate", staging + "/picture.json", staging + "/renamed-" + loaded.name])
        #expect(text.stdout.contains("would be  rejected"))
        #expect(text.stdout.contains("would be  duplicate"))
        #expect(text.stdout.contains("nothing was written"))
    }

    @Test func worksWithoutADatabaseAndForReferenceFiles() throws {
        let box = try Sandbox()
        let path = box.root.appendingPathComponent("users-new.csv").path
        try
            "user_id,signup_date,country\nu1,2024-01-05,DE\nu2,2024-13-01,FR\n,2024-01-01,\nu1,2024-01-06,AT\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let run = try box.ctl(["validate", path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: box.database))
        #expect(run.stdout.contains("would be  loaded (users"))
        #expect(run.stdout.contains("4 read · 2 to silver · 2 rejected"))
        #expect(run.stdout.contains("line 3  invalid_signup_date"))
        #expect(run.stdout.contains("line 4  missing_user_id,missing_country"))
        #expect(run.stdout.contains("no database to compare with"))
        let strict = try box.ctl(["validate", "--strict", path])
        #expect(strict.status == 1)

        // Against a database: what it would add and change. The loaded export is older
        // than the one validated (file order decides, not load order).
        let now = Date().timeIntervalSince1970
        try box.drop(
            "users.csv", "user_id,signup_date,country\nu1,2024-01-05,DE\nu9,2024-01-05,US\n",
            mtime: now - 86_400)
        try box.setMtime(path, now)
        #expect(try box.podpiped().status == 0)
        func changes() throws -> (added: Int?, changed: Int?) {
            let compared = try box.ctl(["validate", path, "--json"])
            let file = try #require(
                ((try jsonValue(compared.stdout) as? [String: Any])?["files"] as? [[String: Any]])?.first)
            return (file["reference_added"] as? Int, file["reference_changed"] as? Int)
        }
        #expect(try changes().added == 0)
        #expect(try changes().changed == 1)  // u1 → AT
        // An export older than the loaded one changes nothing it set.
        try box.setMtime(path, now - 2 * 86_400)
        #expect(try changes().changed == 0)
    }

    @Test func aNameThatIsNotUTF8IsValidatedByItsBytes() throws {
        let box = try Sandbox()
        // `ev\xff.json` in the folder, loaded by podpiped (the ledger names it `ev\xff.json`).
        let name: [UInt8] = Array("ev".utf8) + [0xFF] + Array(".json".utf8)
        try RawPath.write(
            Data(eventLines(3, seed: 5).utf8), folder: box.dataLoad, name: name, mtime: 1_700_000_000)
        #expect(try box.podpiped().status == 0)
        #expect(try box.query("SELECT name FROM ingest_file", as: String.self) == "ev\\xff.json")
        // Swift's CommandLine.arguments replaces the byte with U+FFFD: the shell passes the raw
        // bytes ($1 is podpipectl, $2 the folder) and podpipectl must find them in argv.
        let script = #"bin=$1; dir=$2; shift 2; exec "$bin" "$@" "$(printf '%s/ev\377.json' "$dir")""#
        let run = try Binaries.run(
            "podpipectl", [box.dataLoad, "validate", "--database", box.database, "--json"],
            prefix: ["/bin/sh", "-c", script, "sh"])
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        let file = try #require(
            ((try jsonValue(run.stdout) as? [String: Any])?["files"] as? [[String: Any]])?.first)
        #expect(file["name"] as? String == "ev\\xff.json")
        #expect((file["path"] as? String)?.hasSuffix("/ev\\xff.json") == true)
        #expect(file["outcome"] as? String == "unchanged", "\(run.stdout)")
    }
}
