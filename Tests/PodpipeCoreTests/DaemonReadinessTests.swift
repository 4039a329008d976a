import Foundation
import Testing

@testable import PodpipeCore

#if canImport(Glibc)
    import Glibc
#endif

private func file(_ name: String, size: Int64 = 10, mtime: Int64 = 1) -> Candidate {
    Candidate(name: name, path: "/x/" + name, kind: .events, gzip: false, size: size, mtimeNs: mtime)
}

@Suite("daemon: when a file is ready to read")
struct DaemonReadinessTests {
    @Test func pollModeWaitsUntilSizeAndMtimeHaveSettled() {
        var readiness = FileReadiness(mode: .poll, settle: 2)
        let a = file("a.json", size: 10, mtime: 1)
        readiness.observe(present: ["a.json"], pending: [a], now: 100)
        #expect(!readiness.isReady(a, now: 100))
        #expect(readiness.nextSettleDeadline(now: 100) == 102)
        #expect(!readiness.isReady(a, now: 101.9))
        // It grew: the clock starts again.
        let grown = file("a.json", size: 20, mtime: 2)
        readiness.observe(present: ["a.json"], pending: [grown], now: 101.5)
        #expect(!readiness.isReady(grown, now: 102.5))
        #expect(readiness.nextSettleDeadline(now: 102.5) == 103.5)
        readiness.observe(present: ["a.json"], pending: [grown], now: 103.5)
        #expect(readiness.isReady(grown, now: 103.5))
        #expect(readiness.nextSettleDeadline(now: 103.5) == nil)
        // Only the mtime moved (same size): not settled either.
        let touched = file("a.json", size: 20, mtime: 3)
        readiness.observe(present: ["a.json"], pending: [touched], now: 104)
        #expect(!readiness.isReady(touched, now: 105))
    }

    @Test func zeroSettleMeansReadyAtFirstSight() {
        var readiness = FileReadiness(mode: .poll, settle: 0)
        let a = file("a.json")
        readiness.observe(present: ["a.json"], pending: [a], now: 5)
        #expect(readiness.isReady(a, now: 5))
    }

    @Test func pollModeIgnoresWatchEvents() {
        var readiness = FileReadiness(mode: .poll, settle: 2)
        let a = file("a.json")
        do {
            let madeReady = readiness.apply(.closedAfterWrite("a.json"))
            #expect(madeReady)
        }
        readiness.observe(present: ["a.json"], pending: [a], now: 0)
        #expect(!readiness.isReady(a, now: 0.5))
    }

    @Test func inotifyModeTrustsCloseAfterWriteAndRenameIn() {
        var readiness = FileReadiness(mode: .inotify, settle: 60)
        let a = file("a.json")
        let b = file("b.json")
        do {
            let madeReady = readiness.apply(.created("a.json"))
            #expect(!madeReady)
        }
        do {
            let madeReady = readiness.apply(.modified("a.json"))
            #expect(!madeReady)
        }
        readiness.observe(present: ["a.json"], pending: [a], now: 0)
        #expect(!readiness.isReady(a, now: 1000), "a writer still has it open")
        #expect(readiness.namesBeingWritten == ["a.json"])
        do {
            let madeReady = readiness.apply(.closedAfterWrite("a.json"))
            #expect(madeReady)
        }
        #expect(readiness.isReady(a, now: 0))
        do {
            let madeReady = readiness.apply(.movedIn("b.json"))
            #expect(madeReady)
        }
        readiness.observe(present: ["a.json", "b.json"], pending: [a, b], now: 1)
        #expect(readiness.isReady(b, now: 1))
        // Written to again after the close: not ready until the next close.
        readiness.apply(.modified("a.json"))
        #expect(!readiness.isReady(a, now: 2))
        readiness.apply(.closedAfterWrite("a.json"))
        #expect(readiness.isReady(a, now: 2))
        readiness.consumed("a.json")
        readiness.observe(present: ["a.json", "b.json"], pending: [b], now: 3)
        #expect(readiness.nextSettleDeadline(now: 3) == nil)
    }

    @Test("names equal only under Unicode normalization are two files: one's close does not ready the other")
    func namesAreToldApartByTheirBytes() {
        var readiness = FileReadiness(mode: .inotify, settle: 60)
        let composed = "caf\u{E9}.json"  // é precomposed
        let decomposed = "cafe\u{301}.json"  // e + combining acute
        #expect(composed == decomposed && Array(composed.utf8) != Array(decomposed.utf8))
        let writing = file(decomposed)
        let done = file(composed)
        readiness.apply(.created(decomposed))
        readiness.apply(.modified(decomposed))
        readiness.apply(.closedAfterWrite(composed))
        readiness.observe(present: [composed, decomposed], pending: [writing, done], now: 0)
        #expect(readiness.isReady(done, now: 1))
        #expect(!readiness.isReady(writing, now: 1), "still being written")
        #expect(readiness.namesBeingWritten.map { Array($0.utf8) } == [Array(decomposed.utf8)])
        readiness.consumed(composed)
        #expect(!readiness.isReady(writing, now: 1000))
    }

    @Test func inotifyModeSettlesFilesItKnowsNothingAbout() {
        var readiness = FileReadiness(mode: .inotify, settle: 1)
        let old = file("old.json")
        readiness.observe(present: ["old.json"], pending: [old], now: 10)
        #expect(!readiness.isReady(old, now: 10))
        #expect(readiness.nextSettleDeadline(now: 10) == 11)
        readiness.observe(present: ["old.json"], pending: [old], now: 11)
        #expect(readiness.isReady(old, now: 11))
    }

    @Test func anOverflowForgetsWhatTheWatchSaid() {
        var readiness = FileReadiness(mode: .inotify, settle: 1)
        let a = file("a.json")
        let b = file("b.json")
        readiness.apply(.closedAfterWrite("a.json"))
        readiness.apply(.modified("b.json"))
        readiness.apply(.overflow)
        readiness.observe(present: ["a.json", "b.json"], pending: [a, b], now: 0)
        #expect(!readiness.isReady(a, now: 0))
        #expect(!readiness.isReady(b, now: 0.5))
        readiness.observe(present: ["a.json", "b.json"], pending: [a, b], now: 1)
        #expect(readiness.isReady(a, now: 1))
        #expect(readiness.isReady(b, now: 1))
    }

    @Test func removedAndRecreatedNamesStartOver() {
        var readiness = FileReadiness(mode: .inotify, settle: 5)
        let a = file("a.json")
        readiness.apply(.closedAfterWrite("a.json"))
        readiness.apply(.removed("a.json"))
        readiness.observe(present: ["a.json"], pending: [a], now: 0)
        #expect(!readiness.isReady(a, now: 0))
        readiness.apply(.closedAfterWrite("a.json"))
        readiness.apply(.created("a.json"))
        #expect(!readiness.isReady(a, now: 1))
        // Names gone from the folder are forgotten.
        readiness.apply(.modified("gone.json"))
        readiness.observe(present: ["a.json"], pending: [a], now: 2)
        #expect(readiness.namesBeingWritten.isEmpty)
    }

    @Test func inotifyEventsAreParsedFromTheKernelLayout() {
        func record(wd: Int32, mask: Int32, name: String) -> [UInt8] {
            var bytes: [UInt8] = []
            func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
            let padded = name.isEmpty ? 0 : (name.utf8.count / 16 + 1) * 16
            u32(UInt32(bitPattern: wd))
            u32(UInt32(bitPattern: mask))
            u32(0)
            u32(UInt32(padded))
            bytes.append(contentsOf: name.utf8)
            bytes.append(contentsOf: [UInt8](repeating: 0, count: padded - name.utf8.count))
            return bytes
        }
        let buffer =
            record(wd: 1, mask: IN_CLOSE_WRITE, name: "a.json")
            + record(wd: 1, mask: IN_MOVED_TO, name: "b.ndjson")
            + record(wd: 1, mask: IN_CREATE | IN_ISDIR, name: "sub")
            + record(wd: 1, mask: IN_MODIFY, name: "c.json")
            + record(wd: 1, mask: IN_DELETE, name: "d.json") + record(wd: -1, mask: IN_Q_OVERFLOW, name: "")
            + record(wd: 1, mask: IN_DELETE_SELF, name: "")
        let events = InotifyWatcher.parse(buffer[...]).map(\.event)
        #expect(
            events == [
                .closedAfterWrite("a.json"), .movedIn("b.ndjson"), .modified("c.json"), .removed("d.json"),
                .overflow, .folderGone,
            ])
    }

    @Test func theRealWatchReportsCloseAndRename() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("podpipe-watch-\(UUID())")
        let folder = root.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let watcher = try InotifyWatcher()
        try watcher.watch(folder.path)
        try Data("{}\n".utf8).write(to: folder.appendingPathComponent("a.json"))
        try Data("{}\n".utf8).write(to: root.appendingPathComponent("b.tmp"))
        try FileManager.default.moveItem(
            at: root.appendingPathComponent("b.tmp"), to: folder.appendingPathComponent("b.json"))
        var events: [WatchEvent] = []
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline
            && !(events.contains(.closedAfterWrite("a.json")) && events.contains(.movedIn("b.json")))
        {
            events += watcher.drain()
            usleep(10_000)
        }
        #expect(events.contains(.closedAfterWrite("a.json")))
        #expect(events.contains(.movedIn("b.json")))
        try FileManager.default.removeItem(at: folder)
        var gone = false
        let until = Date().addingTimeInterval(5)
        while Date() < until && !gone {
            gone = watcher.drain().contains(.folderGone)
            usleep(10_000)
        }
        #expect(gone)
        #expect(!watcher.isWatching)
    }
}

@Suite("daemon: timing, liveness, status line")
struct DaemonScheduleTests {
    @Test func pollIntervalFollowsSettleAndRescan() {
        #expect(DaemonTiming.pollInterval(rescan: 60, settle: 2) == 2)
        #expect(DaemonTiming.pollInterval(rescan: 60, settle: 0) == 1)
        #expect(DaemonTiming.pollInterval(rescan: 5, settle: 30) == 5)
        #expect(DaemonTiming.pollInterval(rescan: 1, settle: 0.2) == 1)
    }

    @Test func failedPassesBackOffToAMinute() {
        #expect(DaemonTiming.passRetryDelay(failures: 0) == 0)
        #expect(DaemonTiming.passRetryDelay(failures: 1) == 1)
        #expect(DaemonTiming.passRetryDelay(failures: 2) == 2)
        #expect(DaemonTiming.passRetryDelay(failures: 4) == 8)
        #expect(DaemonTiming.passRetryDelay(failures: 7) == 60)
        #expect(DaemonTiming.passRetryDelay(failures: 1000) == 60)
        #expect(DaemonTiming.goldRetryDelay(interval: 300) == 60)
        #expect(DaemonTiming.goldRetryDelay(interval: 5) == 5)
    }

    private func record(
        state: DaemonRunState = .running, pid: Int64 = 42, host: String = "h",
        heartbeat: String = "2024-04-21T09:13:28Z",
        clean: Bool = false
    ) -> DaemonStateRecord {
        DaemonStateRecord(
            state: state, pid: pid, host: host, startedAt: "2024-04-21T09:00:00Z", heartbeatAt: heartbeat,
            heartbeatIntervalS: 10, staleAfterS: 180, watchMode: "inotify", dataLoad: "/d",
            stoppedAt: state == .stopped ? "2024-04-21T09:14:00Z" : nil,
            stopReason: state == .stopped ? (clean ? "SIGTERM" : "fatal") : nil, cleanStop: clean)
    }

    @Test func livenessNeedsAFreshHeartbeatFromALiveProcess() {
        let now = Date(timeIntervalSince1970: 1_713_690_808 + 60)  // heartbeat 60 s old
        let alive: (Int64) -> Bool = { _ in true }
        let dead: (Int64) -> Bool = { _ in false }
        let never = DaemonLiveness.judge(nil, now: now, host: "h", isAlive: alive)
        #expect(!never.running && !never.expected)
        let running = DaemonLiveness.judge(record(), now: now, host: "h", isAlive: alive)
        #expect(running.running && running.expected)
        let killed = DaemonLiveness.judge(record(), now: now, host: "h", isAlive: dead)
        #expect(!killed.running && killed.expected)
        // On another host the pid means nothing: the heartbeat decides.
        let elsewhere = DaemonLiveness.judge(record(host: "other"), now: now, host: "h", isAlive: dead)
        #expect(elsewhere.running)
        let stale = DaemonLiveness.judge(
            record(), now: now.addingTimeInterval(200), host: "h", isAlive: alive)
        #expect(!stale.running && stale.expected)
        #expect(stale.reason.contains("stale"))
        let stopped = DaemonLiveness.judge(
            record(state: .stopped, clean: true), now: now, host: "h", isAlive: alive)
        #expect(!stopped.running && !stopped.expected)
        let crashed = DaemonLiveness.judge(
            record(state: .stopped, clean: false), now: now, host: "h", isAlive: alive)
        #expect(!crashed.running && crashed.expected)
    }

    @Test func thisProcessExists() {
        #expect(DaemonLiveness.processExists(Int64(getpid())))
        #expect(!DaemonLiveness.processExists(0))
        #expect(!DaemonLiveness.processExists(Int64(Int32.max)))
    }

    @Test func theStatusLineSaysWhatTheDaemonDoes() {
        let now = Date(timeIntervalSince1970: 1_000_000)
        #expect(
            DaemonStatusLine.render(
                activity: "idle", loaded: 42, failed: 0, goldRefreshedAt: now.addingTimeInterval(-150),
                now: now)
                == "idle · 42 files loaded · gold 2 min old")
        #expect(
            DaemonStatusLine.render(
                activity: "ingesting a.json (1 of 3)", loaded: 1, failed: 2, goldRefreshedAt: nil, now: now)
                == "ingesting a.json (1 of 3) · 1 file loaded · 2 failed · gold not refreshed yet")
        #expect(
            DaemonStatusLine.render(
                activity: "idle", loaded: 0, failed: 0, goldRefreshedAt: now.addingTimeInterval(-9), now: now)
                == "idle · 0 files loaded · gold 9 s old")
    }

    @Test func reloadNamesWhatChanged() {
        let old = PodpipeConfig()
        var new = old
        new.watchMode = .poll
        new.logLevel = "debug"
        new.dataLoad = "/elsewhere"
        #expect(DaemonRunner.changedKeys(from: old, to: new) == ["data_load", "watch.mode", "log.level"])
        #expect(DaemonRunner.changedKeys(from: old, to: old).isEmpty)
    }
}
