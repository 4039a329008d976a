// Fresh events for `order: .random` (the seed sample's shape): the time-ordered stream is
// drawn once, each event is dealt to a file at random in proportion to the files' line
// budgets, so every file spans the whole range, and a file's share is shuffled when the
// file is written. Natural keys stay unique because every event still comes from the one
// stream (see EventSource).
//
// Memory: the dealt events are held until their file is written, 24 bytes an event (about
// 120 MB for 5 million); the time-ordered default holds none.

struct DealtEvents {
    private var shares: [[EventRecord]]
    private var rng: Rng

    /// Deals `count` events of `source` to the files of `plans`; file *i* gets each event
    /// with probability `plans[i].lines / total lines`.
    init(source: inout EventSource, plans: [EventFilePlan], count: Int, seed: UInt64) {
        rng = Rng(seed: seed, stream: 6)
        var bounds: [Int] = []
        var total = 0
        for plan in plans {
            total += plan.lines
            bounds.append(total)
        }
        shares = plans.map { plan in
            var share: [EventRecord] = []
            share.reserveCapacity(total > 0 ? count * plan.lines / total + 64 : 0)
            return share
        }
        guard total > 0 else { return }
        for _ in 0..<count {
            let event = source.next()
            let r = rng.below(total)
            // The first file whose cumulative budget exceeds r.
            var low = 0
            var high = bounds.count - 1
            while low < high {
                let mid = (low + high) / 2
                if bounds[mid] > r { high = mid } else { low = mid + 1 }
            }
            shares[low].append(event)
        }
    }

    /// File `index`'s events in random order (handed over once: the share is freed).
    mutating func take(_ index: Int) -> [EventRecord] {
        guard shares.indices.contains(index) else { return [] }
        var share: [EventRecord] = []
        swap(&share, &shares[index])
        rng.shuffle(&share)
        return share
    }
}
