import Foundation
import Testing

@testable import PodpipeCore

// Which drop folder `podpipectl status` lists: the one given, else the daemon's.

@Suite("status: which folder")
struct StatusFolderTests {
    static func config(
        flag: String? = nil, env: [String: String] = [:], file json: String? = nil
    ) throws -> PodpipeConfig {
        let file = try json.map { try ConfigFile.parse(Data($0.utf8), path: "/etc/podpipe/podpipe.json") }
        return try PodpipeConfig.resolve(
            overrides: .init(dataLoad: flag), environment: env, file: file, workingDirectory: "/home/op")
    }

    @Test("the configuration records where data_load came from")
    func origin() throws {
        #expect(try Self.config().dataLoadOrigin == .builtInDefault)
        #expect(try Self.config(flag: "in").dataLoadOrigin == .flag)
        #expect(try Self.config(env: ["PODPIPE_DATA_LOAD": "in"]).dataLoadOrigin == .environment)
        #expect(try Self.config(file: #"{"data_load": "in"}"#).dataLoadOrigin == .file)
        #expect(
            try Self.config(flag: "a", env: ["PODPIPE_DATA_LOAD": "b"], file: #"{"data_load": "c"}"#)
                .dataLoadOrigin == .flag)
    }

    @Test("a folder given wins; else the daemon's recorded folder; else the default")
    func choice() throws {
        let recorded = "/srv/podpipe/data_load"
        let (defaulted, fromDaemon) = StatusReport.folder(config: try Self.config(), recorded: recorded)
        #expect(defaulted == recorded && fromDaemon == .daemon)
        let (none, noDaemon) = StatusReport.folder(config: try Self.config(), recorded: nil)
        #expect(none == "/home/op/data_load" && noDaemon == .configuration)
        for config in [
            try Self.config(flag: "in"), try Self.config(env: ["PODPIPE_DATA_LOAD": "/x/in"]),
            try Self.config(file: #"{"data_load": "/x/in"}"#),
        ] {
            let (folder, source) = StatusReport.folder(config: config, recorded: recorded)
            #expect(folder == config.dataLoad && source == .configuration)
        }
    }
}
