import Foundation
import Logging
import Testing

@testable import PodpipeCore

@Suite("journal records")
struct JournalRecordTests {
    @Test func metadataKeysBecomeUpperCasePodpipeFields() {
        #expect(JournalRecord.fieldName(forMetadataKey: "file") == "PODPIPE_FILE")
        #expect(JournalRecord.fieldName(forMetadataKey: "duration_ms") == "PODPIPE_DURATION_MS")
        #expect(JournalRecord.fieldName(forMetadataKey: "new-events.count") == "PODPIPE_NEW_EVENTS_COUNT")
        #expect(JournalRecord.fieldName(forMetadataKey: "Ünïcode") == "PODPIPE___N__CODE")
        #expect(JournalRecord.fieldName(forMetadataKey: "") == "PODPIPE_")
        let long = JournalRecord.fieldName(forMetadataKey: String(repeating: "x", count: 100))
        #expect(long.count == 64)
        #expect(long.hasPrefix("PODPIPE_XXX"))
        for name in [long, JournalRecord.fieldName(forMetadataKey: "a b\nc=d")] {
            #expect(name.utf8.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 95 })
        }
    }

    @Test func prioritiesFollowSyslog() {
        #expect(JournalRecord.priority(.trace) == 7)
        #expect(JournalRecord.priority(.debug) == 7)
        #expect(JournalRecord.priority(.info) == 6)
        #expect(JournalRecord.priority(.notice) == 5)
        #expect(JournalRecord.priority(.warning) == 4)
        #expect(JournalRecord.priority(.error) == 3)
        #expect(JournalRecord.priority(.critical) == 2)
    }

    @Test func aRecordCarriesMessageCodeLocationMessageIDAndMetadata() {
        struct Boom: Error, CustomStringConvertible { var description: String { "disk full" } }
        let fields = JournalRecord.fields(
            level: .warning, message: "file loaded with rejected rows:\nline 4",
            metadata: [
                "event": "file_loaded", "file": "a.json", "rows": "4", "nested": ["k": "v"],
            ], identifier: "podpiped", file: "PodpipeCore/Pipeline.swift", line: 120,
            function: "report(_:_:)",
            error: Boom())
        #expect(
            fields == [
                "MESSAGE=file loaded with rejected rows:\nline 4",
                "PRIORITY=4",
                "SYSLOG_IDENTIFIER=podpiped",
                "CODE_FILE=PodpipeCore/Pipeline.swift",
                "CODE_LINE=120",
                "CODE_FUNC=report(_:_:)",
                "MESSAGE_ID=390321c69b4e4939844bad30e75562d3",
                "PODPIPE_ERROR=disk full",
                "PODPIPE_EVENT=file_loaded",
                "PODPIPE_FILE=a.json",
                "PODPIPE_NESTED=[\"k\": \"v\"]",
                "PODPIPE_ROWS=4",
            ])
    }

    @Test func unknownEventsGetNoMessageID() {
        let fields = JournalRecord.fields(
            level: .info, message: "m", metadata: ["event": "something_new"], identifier: "x", file: "f",
            line: 1, function: "g")
        #expect(!fields.contains { $0.hasPrefix("MESSAGE_ID=") })
        #expect(fields.contains("PODPIPE_EVENT=something_new"))
    }

    @Test func messageIDsAreDistinct128BitHex() {
        let ids = Array(PodpipeMessageID.byEvent.values)
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(id.count == 32)
            #expect(id.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        }
        for event in [
            "daemon_started", "daemon_stopping", "file_loaded", "file_rejected", "gold_refreshed",
        ] {
            #expect(PodpipeMessageID.forEvent(event) != nil, "\(event)")
        }
    }

    @Test func autoTargetFollowsJournalStream() throws {
        // fd 2 of the test process is not the journal: a JOURNAL_STREAM naming another
        // stream must not switch to native records.
        #expect(!JournalSender.stderrIsJournal(environment: [:]))
        #expect(!JournalSender.stderrIsJournal(environment: ["JOURNAL_STREAM": "garbage"]))
        #expect(!JournalSender.stderrIsJournal(environment: ["JOURNAL_STREAM": "1:1"]))
        var st = stat()
        #expect(fstat(2, &st) == 0)
        #expect(JournalSender.stderrIsJournal(environment: ["JOURNAL_STREAM": "\(st.st_dev):\(st.st_ino)"]))
        #expect(LoggingControl.useJournal(.journal, environment: [:]))
        #expect(
            !LoggingControl.useJournal(.stderr, environment: ["JOURNAL_STREAM": "\(st.st_dev):\(st.st_ino)"]))
    }

    @Test func stderrLinesAreReadable() {
        let line = StderrLine.format(
            date: Date(timeIntervalSince1970: 1_713_690_808), level: .info, label: "podpiped",
            message: "file loaded", metadata: ["file": "my file.json", "rows": "4"])
        #expect(line == "2024-04-21T09:13:28Z info podpiped: file loaded file=\"my file.json\" rows=4\n")
    }

    @Test func theLevelFollowsTheSharedControl() {
        let control = LoggingControl(level: .info, useJournal: false, identifier: "t")
        let handler = PodpipeLogHandler(label: "t", control: control)
        #expect(handler.logLevel == .info)
        var config = PodpipeConfig()
        config.logLevel = "debug"
        config.logTarget = .journal
        control.apply(config)
        #expect(handler.logLevel == .debug)
        #expect(control.useJournal)
    }
}
