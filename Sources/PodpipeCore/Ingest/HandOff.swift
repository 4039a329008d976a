import Foundation

/// A bounded, blocking hand-off between one producer thread and one consumer: the parser
/// fills batches while the writer inserts the previous ones, so parsing (one core) and
/// SQLite (the other) overlap. Bounded so memory stays flat whatever the file size.
final class HandOff<Element: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Element] = []
    private var closed = false
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Blocks while full. Returns false when the consumer closed the hand-off (stop).
    @discardableResult
    func put(_ item: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count >= capacity && !closed { condition.wait() }
        if closed { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    /// Blocks while empty; nil once closed and drained.
    func take() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !closed { condition.wait() }
        if items.isEmpty { return nil }
        let item = items.removeFirst()
        condition.broadcast()
        return item
    }

    /// Wakes both sides; later puts are refused.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}

extension HandOff {
    /// Runs `produce` on a thread of its own (named `name`), filling a hand-off of
    /// `capacity` that `consume` takes from on the calling thread. However `consume` ends, the
    /// hand-off is closed (a producer's next `put` returns false) and the thread is gone
    /// before this returns.
    static func withProducer<Result>(
        name: String, capacity: Int, produce: @escaping @Sendable (HandOff<Element>) -> Void,
        consume: (HandOff<Element>) throws -> Result
    ) throws -> Result {
        let handOff = HandOff<Element>(capacity: capacity)
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { finished.signal() }
            produce(handOff)
        }
        thread.name = name
        thread.start()
        defer {
            handOff.close()
            finished.wait()
        }
        return try consume(handOff)
    }
}
