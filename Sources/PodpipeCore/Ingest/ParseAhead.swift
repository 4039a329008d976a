import Foundation
import PodpipeRules

/// Begins parsing a pass's next event file while the writer inserts the current file's last
/// rows, so that its first batches are ready when its turn comes.
///
/// The writer inserts a file's bronze rows as the parser hands them over, then its silver
/// run; the parser's core is idle during that run, and the next file's parser used to start
/// only when the writer asked for its first batch, on a core shared with the gold prefetch
/// and the checkpoint. In a seed-shaped 5M load the writer waited for the parser about 7 %
/// of the time (doc/performance.md, session 16).
///
/// At most one parse waits, with its bounded hand-off (a few batches). It only reads the
/// file: the file's turn takes it (``FileIngest``) if it is the same candidate; anything else
/// stops it, as does the end of the pass.
final class ParseAhead: @unchecked Sendable {  // its state under `lock`
    private let lock = NSLock()
    private var waiting: (candidate: Candidate, parse: EventParse)?

    /// Begins parsing `candidate` unless a parse already waits. A file that cannot be opened
    /// is left for its turn, which reports why.
    func start(_ candidate: Candidate, validator: EventValidator, lineReader: LineReader) {
        lock.lock()
        defer { lock.unlock() }
        guard waiting == nil, candidate.kind == .events, let source = try? ChunkSource(candidate) else {
            return
        }
        // With silver runs of the default size: the SQLite writer's (a load asking for others
        // starts its own parse).
        waiting = (
            candidate,
            EventParse(
                source: source, validator: validator, lineReader: lineReader, runCapacity: SilverRun.capacity)
        )
    }

    /// The parse begun for `candidate`, if one waits for it; a parse begun for another file
    /// is stopped.
    func take(_ candidate: Candidate) -> EventParse? {
        guard let taken = takeWaiting() else { return nil }
        if taken.candidate == candidate { return taken.parse }
        taken.parse.stop()
        return nil
    }

    /// Stops the waiting parse, if any (the pass ends).
    func discard() {
        takeWaiting()?.parse.stop()
    }

    /// Whether a parse waits (tests).
    var isWaiting: Bool {
        lock.lock()
        defer { lock.unlock() }
        return waiting != nil
    }

    private func takeWaiting() -> (candidate: Candidate, parse: EventParse)? {
        lock.lock()
        defer { lock.unlock() }
        let taken = waiting
        waiting = nil
        return taken
    }
}
