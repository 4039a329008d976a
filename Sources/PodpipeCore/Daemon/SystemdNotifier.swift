import CSystemd
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The service manager's notification channel (sd_notify(3)): `READY=1`, `STATUS=…`,
/// `WATCHDOG=1`, `RELOADING=1`, `STOPPING=1`. A no-op when `NOTIFY_SOCKET` is not set (not
/// run by systemd with `Type=notify`). libsystemd's `sd_notify` does the socket work
/// (abstract and path sockets, credentials); it is safe to call from any thread.
final class SystemdNotifier: Sendable {
    /// True when `NOTIFY_SOCKET` is set.
    let enabled: Bool
    /// The watchdog period systemd expects pings within (`WATCHDOG_USEC` for this pid), or
    /// nil when the watchdog is off.
    let watchdogInterval: Double?
    private let lastPing = Atomic<UInt64>(0)
    private let lastStatus = Mutex<String>("")

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        enabled = !(environment["NOTIFY_SOCKET"] ?? "").isEmpty
        var usec: UInt64 = 0
        if sd_watchdog_enabled(0, &usec) > 0, usec > 0 {
            watchdogInterval = Double(usec) / 1_000_000
        } else {
            watchdogInterval = nil
        }
    }

    /// Sends `KEY=value` lines in one datagram. Returns false when sending failed.
    @discardableResult
    func send(_ lines: [String]) -> Bool {
        guard enabled, !lines.isEmpty else { return false }
        return sd_notify(0, lines.joined(separator: "\n")) > 0
    }

    /// `READY=1` with the current status line.
    func ready(status: String) { send(["READY=1", "STATUS=\(Self.oneLine(status))"]) }

    /// `STATUS=…`, only when it changed since the last one sent.
    func status(_ text: String) {
        let line = Self.oneLine(text)
        let changed = lastStatus.withLock { last -> Bool in
            if last == line { return false }
            last = line
            return true
        }
        if changed { send(["STATUS=\(line)"]) }
    }

    /// `RELOADING=1` with `MONOTONIC_USEC` (CLOCK_MONOTONIC now, as systemd requires for
    /// `Type=notify-reload` and accepts for `notify`). `READY=1` must follow.
    func reloading() {
        send([
            "RELOADING=1", "MONOTONIC_USEC=\(Self.monotonicMicroseconds())", "STATUS=reloading configuration",
        ])
    }

    func stopping(status: String) { send(["STOPPING=1", "STATUS=\(Self.oneLine(status))"]) }

    /// `WATCHDOG=1`, at most every third of the watchdog period (callers may call it as often
    /// as they like: from the work loop and every few thousand lines of a file).
    func watchdogPing() {
        guard let interval = watchdogInterval else { return }
        let now = Self.monotonicMicroseconds()
        let last = lastPing.load(ordering: .relaxed)
        let spacing = UInt64(interval * 1_000_000 / 3)
        if last != 0 && now &- last < spacing { return }
        lastPing.store(now, ordering: .relaxed)
        send(["WATCHDOG=1"])
    }

    /// Seconds until the next watchdog ping is due (nil when the watchdog is off).
    func secondsUntilWatchdogPing() -> Double? {
        guard let interval = watchdogInterval else { return nil }
        let last = lastPing.load(ordering: .relaxed)
        let due = last &+ UInt64(interval * 1_000_000 / 3)
        let now = Self.monotonicMicroseconds()
        return now >= due ? 0 : Double(due - now) / 1_000_000
    }

    static func oneLine(_ text: String) -> String {
        text.replacingOccurrences(of: "\n", with: " ")
    }

    static func monotonicMicroseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }
}
