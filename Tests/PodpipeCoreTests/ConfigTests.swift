import Foundation
import Testing

@testable import PodpipeCore

/// Every setting has one rule, the same for the environment and the file
/// (``ConfigSetting``); flags arrive typed from the command-line parser.
@Suite("configuration rules")
struct ConfigTests {
    static let cwd = "/srv/podpipe"

    func resolve(env: [String: String] = [:], file json: String? = nil) throws(ConfigError) -> PodpipeConfig {
        let file = try json.map { text throws(ConfigError) in
            try ConfigFile.parse(Data(text.utf8), path: "/etc/podpipe/podpipe.json")
        }
        return try PodpipeConfig.resolve(environment: env, file: file, workingDirectory: Self.cwd)
    }

    /// (setting, value as the environment gives it, accepted)
    static let table: [(ConfigSetting, String, Bool)] = [
        (.goldRefreshInterval, "300", true), (.goldRefreshInterval, "1", true),
        (.goldRefreshInterval, "0.5", false), (.goldRefreshInterval, "inf", false),
        (.goldRefreshInterval, "-inf", false), (.goldRefreshInterval, "nan", false),
        (.goldRefreshInterval, "1e300", false), (.goldRefreshInterval, "0x1p4", false),
        (.goldRefreshInterval, "604800", true), (.goldRefreshInterval, "604801", false),
        (.goldRefreshInterval, "", false), (.goldRefreshInterval, "5 minutes", false),
        (.rescanInterval, " 60 ", true), (.rescanInterval, "0", false), (.rescanInterval, "86401", false),
        (.settle, "0", true), (.settle, "0.2", true), (.settle, "-1", false), (.settle, "3601", false),
        (.futureSkew, "300", true), (.futureSkew, "0", true), (.futureSkew, "6311520000", true),
        (.futureSkew, "315576000000", true), (.futureSkew, "315576000001", false),
        (.futureSkew, "1e20", false), (.futureSkew, "300.5", false), (.futureSkew, "-1", false),
        (.maxLineBytes, "1024", true), (.maxLineBytes, "1e6", true), (.maxLineBytes, "1023", false),
        (.maxLineBytes, "1e20", false), (.maxLineBytes, "1073741825", false),
        (.maxLineBytes, "2048.5", false),
        (.retryBackoff, "30", true), (.retryBackoff, "0", false), (.retryBackoff, "3601", false),
        (.groupSeconds, "0", true), (.groupSeconds, "8", true), (.groupSeconds, "3601", false),
        (.groupSeconds, "-1", false),
        (.watchMode, "POLL", true), (.watchMode, "fanotify", false),
        (.logTarget, "journal", true), (.logTarget, "nonsense", false),
        (.logLevel, "Debug", true), (.logLevel, "verbose", false),
        (.dataLoad, "in", true), (.dataLoad, "", false),
    ]

    @Test("each value is checked by its setting's rule, from the environment and from the file alike")
    func table() {
        for (setting, text, accepted) in Self.table {
            let fromEnv = Result { () throws(ConfigError) in
                try resolve(env: [setting.environmentName: text])
            }
            #expect(((try? fromEnv.get()) != nil) == accepted, "env \(setting.key)=\(text)")
            if case .failure(let error) = fromEnv {
                #expect(
                    error
                        == .invalidValue(
                            key: setting.key, source: .environment(setting.environmentName), value: text,
                            expected: setting.allowed))
            }
            // The same text as a JSON string, and (if it is a JSON number) as a number.
            let parts = setting.key.split(separator: ".").map(String.init)
            func nested(_ value: String) -> String {
                parts.reversed().reduce(value) { inner, key in "{\"\(key)\": \(inner)}" }
            }
            let quoted = "\"" + text + "\""  // (no quote or backslash in the table's texts)
            #expect(
                ((try? resolve(file: nested(quoted))) != nil) == accepted, "file \(setting.key)=\(quoted)")
            if Double(text) != nil, text.allSatisfy({ "0123456789.-e".contains($0) }), !text.isEmpty {
                #expect(
                    ((try? resolve(file: nested(text))) != nil) == accepted, "file \(setting.key)=\(text)")
            }
        }
    }

    @Test("an accepted value arrives converted; the message of a refused one names key, source and range")
    func valuesAndMessages() throws {
        let config = try resolve(
            env: ["PODPIPE_VALIDATION_FUTURE_SKEW": "6311520000", "PODPIPE_INGEST_MAX_LINE_BYTES": "1e6"],
            file: #"{"gold": {"refresh_interval": 2.5}, "watch": {"mode": "poll", "settle": 0}}"#)
        #expect(config.futureSkew == 6_311_520_000)
        #expect(config.maxLineBytes == 1_000_000)
        #expect(config.goldRefreshInterval == 2.5)
        #expect(config.watchMode == .poll)
        #expect(config.settle == 0)
        #expect(config.warnings.isEmpty)

        #expect(throws: ConfigError.self) { try resolve(env: ["PODPIPE_GOLD_REFRESH_INTERVAL": "inf"]) }
        do {
            _ = try resolve(env: ["PODPIPE_GOLD_REFRESH_INTERVAL": "inf"])
        } catch {
            #expect(
                error.description
                    == "configuration key gold.refresh_interval has the value 'inf' (from the environment variable PODPIPE_GOLD_REFRESH_INTERVAL); expected a number from 1 to 604800"
            )
        }
        do {
            _ = try resolve(file: #"{"gold": {"refresh_interval": -5}}"#)
        } catch {
            #expect(
                error.description
                    == "configuration key gold.refresh_interval has the value '-5' (from the configuration file /etc/podpipe/podpipe.json); expected a number from 1 to 604800"
            )
        }
        do {
            _ = try resolve(file: #"{"watch": {"settle": [1]}}"#)
        } catch {
            #expect(error.description.contains("'(a JSON array)'"))
        }
    }

    @Test("the environment wins over the file, the file over the defaults; paths are relative to their layer")
    func precedence() throws {
        let config = try resolve(
            env: ["PODPIPE_WATCH_SETTLE": "1"],
            file: #"{"watch": {"settle": 3}, "data_load": "in", "gold": {"refresh_interval": 9}}"#)
        #expect(config.settle == 1)
        #expect(config.goldRefreshInterval == 9)
        #expect(config.dataLoad == "/etc/podpipe/in")
        #expect(config.database == "/srv/podpipe/podpipe.sqlite")
        #expect(try resolve(env: ["PODPIPE_DATA_LOAD": "drop"]).dataLoad == "/srv/podpipe/drop")
        // A flag wins over both.
        let flagged = try PodpipeConfig.resolve(
            overrides: .init(dataLoad: "flag", logTarget: .journal),
            environment: ["PODPIPE_DATA_LOAD": "env", "PODPIPE_LOG_TARGET": "stderr"], file: nil,
            workingDirectory: Self.cwd)
        #expect(flagged.dataLoad == "/srv/podpipe/flag")
        #expect(flagged.logTarget == .journal)
    }

    @Test("unknown keys of the file warn, with the nearest known key")
    func unknownKeys() throws {
        let config = try resolve(
            file:
                #"{"watch": {"setle": 1, "mode": "poll"}, "loglevel": "debug", "gold": 5, "zzz_totally_else": 1}"#
        )
        #expect(config.watchMode == .poll)
        // Every key, in the documentation's order (each new setting joins the list).
        let known = ConfigSetting.all.map(\.key).joined(separator: ", ")
        #expect(known.hasPrefix("data_load, database, watch.mode, "))
        #expect(
            config.warnings.map(\.description) == [
                "configuration file /etc/podpipe/podpipe.json: unknown key gold is ignored (known keys: \(known))",
                "configuration file /etc/podpipe/podpipe.json: unknown key loglevel is ignored; did you mean log.level?",
                "configuration file /etc/podpipe/podpipe.json: unknown key watch.setle is ignored; did you mean watch.settle?",
                "configuration file /etc/podpipe/podpipe.json: unknown key zzz_totally_else is ignored (known keys: \(known))",
            ])
    }

    @Test("a file that is not a JSON object is refused")
    func notAnObject() {
        for text in ["[1]", "{ not json", "\"x\"", ""] {
            #expect(throws: ConfigError.self, "\(text)") { try resolve(file: text) }
        }
    }
}
