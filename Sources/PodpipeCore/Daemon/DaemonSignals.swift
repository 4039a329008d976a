import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// SIGTERM/SIGINT (stop), SIGHUP (reload) and SIGUSR1 (refresh gold now) as flags the work loop reads, plus a
/// self-pipe that wakes the loop's poll(2). The handlers are Dispatch signal sources (run
/// on a queue, not in signal context), so they may log and notify systemd.
final class DaemonSignals: Sendable {
    private let stop = Atomic<Bool>(false)
    private let reload = Atomic<Bool>(false)
    private let refresh = Atomic<Bool>(false)
    private let stopSignal = Atomic<Int32>(0)
    /// Read end of the wake-up pipe (non-blocking), for poll(2).
    let wakeFD: Int32
    private let wakeWriteFD: Int32
    private let sources = Mutex<[any DispatchSourceSignal]>([])

    init() throws(DaemonError) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            throw DaemonError.system(call: "pipe", reason: String(cString: strerror(errno)))
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeFD = fds[0]
        wakeWriteFD = fds[1]
    }

    deinit {
        sources.withLock { list in list.forEach { $0.cancel() } }
        close(wakeFD)
        close(wakeWriteFD)
    }

    var stopRequested: Bool { stop.load(ordering: .acquiring) }

    /// The signal that asked to stop (SIGTERM, SIGINT), 0 if none.
    var stopSignalNumber: Int32 { stopSignal.load(ordering: .relaxed) }

    /// True once per SIGHUP (or several SIGHUPs before the loop looked).
    func takeReloadRequest() -> Bool { reload.exchange(false, ordering: .acquiringAndReleasing) }

    /// Asks the loop to stop (as SIGTERM does).
    func requestStop(signal: Int32 = SIGTERM) {
        stopSignal.store(signal, ordering: .relaxed)
        stop.store(true, ordering: .releasing)
        wake()
    }

    /// True once per SIGUSR1 (`podpipectl refresh`): refresh gold now.
    func takeRefreshRequest() -> Bool {
        refresh.exchange(false, ordering: .acquiringAndReleasing)
    }

    func requestRefresh() {
        refresh.store(true, ordering: .releasing)
        wake()
    }

    func requestReload() {
        reload.store(true, ordering: .releasing)
        wake()
    }

    /// Wakes the loop's poll(2).
    func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWriteFD, &byte, 1)  // EAGAIN: a wake-up is already pending
    }

    /// Empties the wake-up pipe.
    func drainWakeups() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeFD, &buffer, buffer.count) > 0 {}
    }

    /// Routes SIGTERM, SIGINT and SIGHUP to the flags. STOPPING=1 goes out at once, so that
    /// systemd knows the stop is under way while the current file rolls back.
    func install(logger: Logger, notifier: SystemdNotifier) {
        let handlers: [(Int32, @Sendable () -> Void)] = [
            (
                SIGTERM,
                { [self] in self.stopHandler(SIGTERM, "SIGTERM", logger, notifier) }
            ),
            (
                SIGINT,
                { [self] in self.stopHandler(SIGINT, "SIGINT", logger, notifier) }
            ),
            (
                SIGHUP,
                { [self] in self.requestReload() }
            ),
            (
                SIGUSR1,
                { [self] in self.requestRefresh() }
            ),
        ]
        sources.withLock { list in
            for (number, handler) in handlers {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler(handler: handler)
                source.resume()
                list.append(source)
            }
        }
    }

    private func stopHandler(_ number: Int32, _ name: String, _ logger: Logger, _ notifier: SystemdNotifier) {
        let first = !stopRequested
        requestStop(signal: number)
        guard first else { return }
        notifier.stopping(status: "stopping on \(name): finishing or rolling back the current file")
        logger.notice(
            "stopping on \(name): the file in progress is rolled back and read again at the next start",
            metadata: LogEventKind.daemonStopping.metadata(["signal": "\(name)"]))
    }
}

/// Daemon errors that are not about data: typed, with the call that failed.
enum DaemonError: Error, CustomStringConvertible, Equatable {
    case system(call: String, reason: String)
    case reload(message: String)

    var description: String {
        switch self {
        case .system(let call, let reason): "\(call) failed: \(reason)"
        case .reload(let message): "configuration not reloaded, the previous one stays in force: \(message)"
        }
    }
}
