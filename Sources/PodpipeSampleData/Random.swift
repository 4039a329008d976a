// Deterministic pseudo-random numbers: SplitMix64 for seeding, xoshiro256** for the
// streams, an alias table for weighted draws. Only integer and basic IEEE arithmetic
// (no libm), so the same seed yields the same sequence on every platform.

/// SplitMix64 (Steele, Lea, Flood 2014); used to expand a seed into generator states, and
/// by the test suites wherever they need a small reproducible stream.
public struct SplitMix64: Sendable {
    public var state: UInt64

    public init(seed: UInt64) { self.state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform enough in 0..<bound (0 when bound is 0).
    public mutating func next(_ bound: UInt64) -> UInt64 { bound == 0 ? 0 : next() % bound }

    /// Uniform enough in 0..<n (n > 0).
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    /// True with probability `percent` / 100.
    public mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    public mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}

/// xoshiro256** 1.0 (Blackman, Vigna). Each concern of the generator owns its own stream,
/// derived from the spec seed and a stream number, so that one concern drawing more
/// numbers does not shift another's.
struct Rng {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    init(seed: UInt64, stream: UInt64) {
        var mixer = SplitMix64(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        s0 = mixer.next()
        s1 = mixer.next()
        s2 = mixer.next()
        s3 = mixer.next()
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 - k))
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        let result = Rng.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = Rng.rotl(s3, 45)
        return result
    }

    /// A uniform integer in `0..<n` (`n > 0`), by Lemire's multiply-shift (the tiny bias is
    /// irrelevant here; determinism is what matters).
    @inline(__always)
    mutating func below(_ n: Int) -> Int {
        let bound = UInt64(truncatingIfNeeded: max(n, 1))
        return Int(truncatingIfNeeded: bound.multipliedFullWidth(by: next()).high)
    }

    /// A uniform integer in `lower...upper`.
    @inline(__always)
    mutating func int(_ lower: Int, _ upper: Int) -> Int {
        lower + below(upper - lower + 1)
    }

    /// A uniform double in `[0, 1)`.
    @inline(__always)
    mutating func unit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// True with probability `p`.
    @inline(__always)
    mutating func chance(_ p: Double) -> Bool {
        unit() < p
    }

    /// A uniform double in `[lower, upper)`.
    @inline(__always)
    mutating func double(_ lower: Double, _ upper: Double) -> Double {
        lower + (upper - lower) * unit()
    }

    /// Fisher–Yates shuffle.
    mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        var i = array.count - 1
        while i > 0 {
            let j = below(i + 1)
            array.swapAt(i, j)
            i -= 1
        }
    }
}

/// Walker/Vose alias table: O(1) draws from a fixed discrete distribution.
struct AliasTable {
    private var probability: [Double]
    private var alias: [Int]

    init(weights: [Double]) {
        let n = weights.count
        precondition(n > 0, "alias table needs at least one weight")
        let total = weights.reduce(0, +)
        var scaled = weights.map { total > 0 ? $0 * Double(n) / total : 1.0 }
        probability = [Double](repeating: 1.0, count: n)
        alias = Array(0..<n)
        var small: [Int] = []
        var large: [Int] = []
        for (i, p) in scaled.enumerated() {
            if p < 1.0 { small.append(i) } else { large.append(i) }
        }
        while let s = small.popLast(), let l = large.popLast() {
            probability[s] = scaled[s]
            alias[s] = l
            scaled[l] = (scaled[l] + scaled[s]) - 1.0
            if scaled[l] < 1.0 { small.append(l) } else { large.append(l) }
        }
        // Leftovers are 1.0 up to rounding.
        for i in small { probability[i] = 1.0 }
        for i in large { probability[i] = 1.0 }
    }

    @inline(__always)
    func sample(_ rng: inout Rng) -> Int {
        let i = rng.below(probability.count)
        return rng.unit() < probability[i] ? i : alias[i]
    }
}
