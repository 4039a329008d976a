import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What inotify said about a name in the drop folder.
enum WatchEvent: Sendable, Equatable {
    /// A writer closed the file (IN_CLOSE_WRITE): its bytes are complete.
    case closedAfterWrite(String)
    /// The file was renamed into the folder (IN_MOVED_TO): complete by convention.
    case movedIn(String)
    /// A new directory entry (IN_CREATE): a writer starting, or a hard link.
    case created(String)
    /// The file was written to (IN_MODIFY): a writer is at work.
    case modified(String)
    /// The name left the folder (IN_DELETE, IN_MOVED_FROM).
    case removed(String)
    /// The kernel queue overflowed (IN_Q_OVERFLOW): events were lost, rescan.
    case overflow
    /// The watched folder itself was deleted, moved or unmounted: the watch is gone.
    case folderGone
}

/// The watch errors, with what to do.
enum WatchError: Error, CustomStringConvertible, Equatable {
    case unavailable(reason: String)
    case cannotWatch(folder: String, reason: String)

    var description: String {
        switch self {
        case .unavailable(let reason):
            "inotify is not available (\(reason)); falling back to polling the folder"
        case .cannotWatch(let folder, let reason):
            "cannot watch \(folder) with inotify (\(reason)); raise fs.inotify.max_user_watches or set watch.mode to poll"
        }
    }
}

/// The drop folder's inotify watch.
///
/// Why inotify by hand: Foundation and Dispatch offer no directory watcher with names on
/// Linux (`DispatchSource.makeFileSystemObjectSource` is kqueue-shaped: one fd, no entry
/// names, no close-after-write), swift-system does not wrap inotify, and the Swift packages
/// that do bring SwiftNIO or an event loop of their own. What the daemon needs is three
/// system calls, the 16-byte event header, and the fd in its own poll(2) next to the signal
/// wake-up pipe: about a hundred lines.
///
/// The mask is close-after-write and rename-in (the two moments a file is complete, SPEC
/// §2.3), create and modify (a writer at work: never read until it closes), delete and
/// rename-out, and the folder's own removal. Not a recursive watch: sub-folders are ignored.
final class InotifyWatcher {
    let fd: Int32
    private var watchDescriptor: Int32 = -1
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)

    static let mask: UInt32 =
        UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO) | UInt32(IN_CREATE) | UInt32(IN_MODIFY)
        | UInt32(IN_DELETE) | UInt32(IN_MOVED_FROM) | UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF)
        | UInt32(IN_ONLYDIR)

    init() throws(WatchError) {
        let fd = inotify_init1(Int32(IN_NONBLOCK) | Int32(IN_CLOEXEC))
        guard fd >= 0 else { throw WatchError.unavailable(reason: String(cString: strerror(errno))) }
        self.fd = fd
    }

    deinit { close(fd) }

    /// True while the folder has a live watch.
    var isWatching: Bool { watchDescriptor >= 0 }

    /// Watches `folder` (replacing any earlier watch).
    func watch(_ folder: String) throws(WatchError) {
        unwatch()
        let wd = inotify_add_watch(fd, folder, Self.mask)
        guard wd >= 0 else {
            throw WatchError.cannotWatch(folder: folder, reason: String(cString: strerror(errno)))
        }
        watchDescriptor = wd
    }

    func unwatch() {
        if watchDescriptor >= 0 { _ = inotify_rm_watch(fd, watchDescriptor) }
        watchDescriptor = -1
    }

    /// Reads every queued event without blocking.
    func drain() -> [WatchEvent] {
        var events: [WatchEvent] = []
        while true {
            let count = buffer.withUnsafeMutableBytes { raw in read(fd, raw.baseAddress, raw.count) }
            if count <= 0 { break }
            for (wd, event) in Self.parse(buffer[0..<count]) {
                // Events of an earlier watch (before a re-watch) are stale; an overflow
                // has no watch (wd -1) and always counts.
                guard event == .overflow || (wd == watchDescriptor && watchDescriptor >= 0) else { continue }
                if event == .folderGone { watchDescriptor = -1 }
                events.append(event)
            }
        }
        return events
    }

    /// Parses a buffer of `struct inotify_event` records (wd, mask, cookie, len, name[len]
    /// NUL-padded) into (watch descriptor, event). Unknown events, and name-less ones other
    /// than the folder's own, are dropped.
    static func parse(_ bytes: ArraySlice<UInt8>) -> [(wd: Int32, event: WatchEvent)] {
        var events: [(wd: Int32, event: WatchEvent)] = []
        var offset = bytes.startIndex
        let header = 16
        while offset + header <= bytes.endIndex {
            func u32(_ at: Int) -> UInt32 {
                UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16
                    | UInt32(bytes[at + 3]) << 24
            }
            let wd = Int32(bitPattern: u32(offset))
            let mask = u32(offset + 4)
            let length = Int(u32(offset + 12))
            let nameStart = offset + header
            let nameEnd = min(nameStart + length, bytes.endIndex)
            let name = String(decoding: bytes[nameStart..<nameEnd].prefix { $0 != 0 }, as: UTF8.self)
            offset = nameEnd
            if let event = event(mask: mask, name: name) { events.append((wd, event)) }
        }
        return events
    }

    static func event(mask: UInt32, name: String) -> WatchEvent? {
        func has(_ flag: Int32) -> Bool { mask & UInt32(flag) != 0 }
        if has(IN_Q_OVERFLOW) { return .overflow }
        if has(IN_DELETE_SELF) || has(IN_MOVE_SELF) || has(IN_IGNORED) || has(IN_UNMOUNT) {
            return .folderGone
        }
        guard !name.isEmpty, !has(IN_ISDIR) else { return nil }
        if has(IN_CLOSE_WRITE) { return .closedAfterWrite(name) }
        if has(IN_MOVED_TO) { return .movedIn(name) }
        if has(IN_CREATE) { return .created(name) }
        if has(IN_MODIFY) { return .modified(name) }
        if has(IN_DELETE) || has(IN_MOVED_FROM) { return .removed(name) }
        return nil
    }
}
