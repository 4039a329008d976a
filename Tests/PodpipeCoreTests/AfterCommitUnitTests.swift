import Foundation
import Testing

@testable import PodpipeCore

/// The after-commit rules and the file-name globs, without the binaries.
@Suite("after commit and selection rules")
struct AfterCommitUnitTests {
    @Test("where a file goes by its final state and the mode; failed files stay")
    func destinations() {
        let move = AfterCommitSettings(mode: .move, processedDir: "/p", rejectedDir: "/r")
        #expect(move.destination(for: .loaded) == .processed)
        #expect(move.destination(for: .duplicate) == .processed)
        #expect(move.destination(for: .rejected) == .rejected)
        #expect(move.destination(for: .failed) == nil)
        let delete = AfterCommitSettings(mode: .delete)
        #expect(
            LedgerState.allCases.compactMap { delete.destination(for: $0) } == [.deleted, .deleted, .deleted])
        #expect(LedgerState.allCases.compactMap { AfterCommitSettings().destination(for: $0) } == [])
    }

    @Test("a suffix goes before the kind's extension, so the name keeps its kind")
    func suffixes() {
        func suffixed(_ name: String, _ n: Int) -> String {
            String(
                decoding: SourceMover.suffixed(
                    Array(name.utf8), n, extensionLength: FileClassifier.kindExtensionLength(name)),
                as: UTF8.self)
        }
        #expect(suffixed("a.json", 0) == "a.json")
        #expect(suffixed("a.json", 1) == "a.1.json")
        #expect(suffixed("events-7.NDJSON.gz", 12) == "events-7.12.NDJSON.gz")
        #expect(suffixed("users-2024.csv", 2) == "users-2024.2.csv")
        #expect(suffixed("2024/05/01/e.jsonl", 3) == "2024/05/01/e.3.jsonl")
        for name in ["a.json", "events-7.NDJSON.gz", "users-2024.csv", "episodes.csv", "x.jsonl.gz"] {
            #expect(FileClassifier.classify(suffixed(name, 7)) == FileClassifier.classify(name), "\(name)")
        }
    }

    @Test("include and exclude globs (fnmatch) on the name, on top of the kinds")
    func globs() {
        let selection = FolderSelection(include: ["events-*", "users*.csv"], exclude: ["*-draft.*"])
        #expect(selection.reasonToIgnore("events-1.json") == nil)
        #expect(selection.reasonToIgnore("users.csv") == nil)
        #expect(selection.reasonToIgnore("other.json")?.contains("matches no watch.include glob") == true)
        #expect(selection.reasonToIgnore("events-2-draft.json")?.contains("glob *-draft.*") == true)
        #expect(FolderSelection().reasonToIgnore(".anything") == nil)
        #expect(FolderSelection(exclude: ["*"]).reasonToIgnore("x.json") != nil)
        #expect(FolderSelection.matches("[ab]?.json", "b1.json"))
        #expect(!FolderSelection.matches("*", ".hidden.json"), "a leading dot needs a dot in the glob")
    }

    @Test("sub-folders: hidden, the after-commit folders and too deep ones are not listed")
    func descend() {
        let selection = FolderSelection(recursive: true, skippedFolders: ["/d/processed"])
        #expect(selection.reasonNotToDescend("2024", path: "/d/in/2024", depth: 1) == nil)
        #expect(selection.reasonNotToDescend(".git", path: "/d/in/.git", depth: 1) != nil)
        #expect(selection.reasonNotToDescend("processed", path: "/d/in/../processed", depth: 1) != nil)
        #expect(
            selection.reasonNotToDescend("x", path: "/d/in/x", depth: FolderSelection.maxDepth + 1) != nil)
    }

    @Test("a folder is within the drop folder by its standardized path")
    func within() {
        #expect(FolderSelection.isWithin("/srv/in", "/srv/in"))
        #expect(FolderSelection.isWithin("/srv/in/done", "/srv/in/"))
        #expect(FolderSelection.isWithin("/srv/x/../in/done", "/srv/in"))
        #expect(!FolderSelection.isWithin("/srv/input", "/srv/in"))
        #expect(!FolderSelection.isWithin("/srv/processed", "/srv/in"))
    }

    func resolve(_ env: [String: String], file json: String? = nil) throws(ConfigError) -> PodpipeConfig {
        let file = try json.map { text throws(ConfigError) in
            try ConfigFile.parse(Data(text.utf8), path: "/etc/podpipe/podpipe.json")
        }
        return try PodpipeConfig.resolve(environment: env, file: file, workingDirectory: "/srv/podpipe")
    }

    @Test("the new keys: defaults beside the drop folder, one rule per key, a folder inside refused")
    func configuration() throws {
        let defaults = try resolve(["PODPIPE_DATA_LOAD": "/srv/drop/in"])
        #expect(
            defaults.afterCommit
                == AfterCommitSettings(
                    mode: .keep, processedDir: "/srv/drop/processed", rejectedDir: "/srv/drop/rejected"))
        #expect(
            defaults.selection
                == FolderSelection(skippedFolders: ["/srv/drop/processed", "/srv/drop/rejected"]),
            "the after-commit folders are never listed")
        let file = try resolve(
            [:],
            file:
                #"{"data_load": "/d/in", "ingest": {"after": "Move", "rejected_dir": "../bad"}, "watch": {"include": ["*.json"], "exclude": ["x*"]}}"#
        )
        #expect(file.afterCommit.mode == .move)
        #expect(file.afterCommit.rejectedDir == "/etc/bad", "relative to the file's folder, like every path")
        #expect(file.selection.include == ["*.json"] && file.selection.exclude == ["x*"])
        #expect(file.pipeline.afterCommit == file.afterCommit && file.pipeline.selection == file.selection)
        let env = try resolve(["PODPIPE_WATCH_EXCLUDE": " a* , b?.json"])
        #expect(env.selection.exclude == ["a*", "b?.json"])
        for (key, value) in [
            ("PODPIPE_INGEST_AFTER", "archive"), ("PODPIPE_WATCH_INCLUDE", ""),
            ("PODPIPE_WATCH_INCLUDE", "a,,b"),
            ("PODPIPE_WATCH_EXCLUDE", "sub/*.json"),
        ] {
            #expect(throws: ConfigError.self, "\(key)=\(value)") { _ = try resolve([key: value]) }
        }
        // A string in the file reads as in the environment; an empty list or a number is refused.
        #expect(try resolve([:], file: #"{"watch": {"include": "*.json"}}"#).selection.include == ["*.json"])
        #expect(throws: ConfigError.self) { _ = try resolve([:], file: #"{"watch": {"include": []}}"#) }
        #expect(throws: ConfigError.self) { _ = try resolve([:], file: #"{"watch": {"include": ["a", 3]}}"#) }
        #expect(
            throws: ConfigError.insideDropFolder(
                key: "ingest.processed_dir", path: "/d/in/done", folder: "/d/in")
        ) {
            _ = try resolve([
                "PODPIPE_DATA_LOAD": "/d/in", "PODPIPE_INGEST_AFTER": "move",
                "PODPIPE_INGEST_PROCESSED_DIR": "/d/in/done",
            ])
        }
        let recursive = try resolve(
            ["PODPIPE_WATCH_RECURSIVE": "on"], file: #"{"watch": {"recursive": false}}"#)
        #expect(recursive.selection.recursive, "the environment wins")
        #expect(try resolve([:], file: #"{"watch": {"recursive": true}}"#).selection.recursive)
        #expect(throws: ConfigError.self) { _ = try resolve(["PODPIPE_WATCH_RECURSIVE": "maybe"]) }
        #expect(throws: ConfigError.self) { _ = try resolve([:], file: #"{"watch": {"recursive": 1}}"#) }
        // Inside is fine when nothing is moved there.
        #expect(
            (try? resolve(["PODPIPE_DATA_LOAD": "/d/in", "PODPIPE_INGEST_PROCESSED_DIR": "/d/in/done"]))
                != nil)
    }
}
