import Foundation

/// Decides when a file in the drop folder is complete enough to read (SPEC §2.3). Pure
/// logic over watch events and folder listings; times are monotonic seconds.
///
/// - inotify mode: a file is ready once it was closed after writing or renamed in; a file
///   written to since (modify, create) is not, until its next close. A file the watch knows
///   nothing about (present at start-up, after a queue overflow, on a file system that does
///   not notify) is ready once its size and mtime have been seen unchanged for `settle`
///   seconds, as in poll mode.
/// - poll mode: ready once size and mtime have been seen unchanged for `settle` seconds.
///
/// Names are told apart by their bytes (as the file system and the ledger do): `String ==`
/// is Unicode canonical equivalence, so "café" with a precomposed "é" and with "e" + a
/// combining accent, two files on Linux, would share one entry (the close of one would
/// make the other, still being written, look ready).
struct FileReadiness: Sendable {
    var mode: WatchMode
    var settle: Double
    private var closed: Set<Name> = []
    private var writing: Set<Name> = []
    private var observed: [Name: Observation] = [:]

    /// A file name's bytes.
    struct Name: Hashable, Sendable {
        let bytes: [UInt8]
        init(_ name: String) { bytes = Array(name.utf8) }
        var text: String { String(decoding: bytes, as: UTF8.self) }
    }

    struct Observation: Sendable, Equatable {
        var size: Int64
        var mtimeNs: Int64
        var since: Double
    }

    init(mode: WatchMode, settle: Double) {
        self.mode = mode
        self.settle = max(0, settle)
    }

    /// Applies one watch event. Returns true when it made a file ready (worth a pass now).
    @discardableResult
    mutating func apply(_ event: WatchEvent) -> Bool {
        switch event {
        case .closedAfterWrite(let name), .movedIn(let name):
            writing.remove(Name(name))
            closed.insert(Name(name))
            return true
        case .modified(let name):
            closed.remove(Name(name))
            writing.insert(Name(name))
        case .created(let name):
            // A new inode under this name: whatever was known about the old one is void.
            closed.remove(Name(name))
            observed[Name(name)] = nil
        case .removed(let name):
            closed.remove(Name(name))
            writing.remove(Name(name))
            observed[Name(name)] = nil
        case .overflow, .folderGone:
            forgetWatchState()
        }
        return false
    }

    /// Events were lost (overflow) or the watch changed: fall back to settling for all.
    mutating func forgetWatchState() {
        closed.removeAll()
        writing.removeAll()
    }

    /// Records what a listing saw. `present`: every candidate name in the folder (names
    /// gone are forgotten); `pending`: the candidates the ledger has not settled, whose size
    /// and mtime start (or keep) their settle clock.
    mutating func observe(present: some Sequence<String>, pending: [Candidate], now: Double) {
        let present = Set(present.map(Name.init))
        closed.formIntersection(present)
        writing.formIntersection(present)
        var next: [Name: Observation] = [:]
        for candidate in pending {
            let name = Name(candidate.name)
            if let previous = observed[name], previous.size == candidate.size,
                previous.mtimeNs == candidate.mtimeNs
            {
                next[name] = previous
            } else {
                next[name] = Observation(size: candidate.size, mtimeNs: candidate.mtimeNs, since: now)
            }
        }
        observed = next
    }

    /// Whether `candidate` (as just listed and observed) may be read now.
    func isReady(_ candidate: Candidate, now: Double) -> Bool {
        let name = Name(candidate.name)
        if mode == .inotify {
            if writing.contains(name) { return false }
            if closed.contains(name) { return true }
        }
        guard let seen = observed[name], seen.size == candidate.size, seen.mtimeNs == candidate.mtimeNs
        else { return false }
        return now - seen.since >= settle
    }

    /// The earliest time a pending file not yet ready could become ready by settling (when
    /// to look again), or nil.
    func nextSettleDeadline(now: Double) -> Double? {
        var earliest: Double?
        for (name, seen) in observed {
            if mode == .inotify && (writing.contains(name) || closed.contains(name)) { continue }
            let due = seen.since + settle
            if due <= now { continue }
            earliest = min(earliest ?? due, due)
        }
        return earliest
    }

    /// The file was ingested (or recorded): its close no longer needs remembering.
    mutating func consumed(_ name: String) {
        closed.remove(Name(name))
        observed[Name(name)] = nil
    }

    /// Names a writer still has open (inotify mode), for status and tests.
    var namesBeingWritten: [String] { writing.map(\.text).sorted() }
}
