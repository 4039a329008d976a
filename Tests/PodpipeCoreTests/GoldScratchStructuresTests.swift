import Foundation
import PodpipeSampleData
import Testing

@testable import PodpipeCore

/// The full rebuild's hand-written structures against the obvious ones: WordTable against
/// Dictionary, SortedRuns' merge against sorting everything.
@Suite("gold: hash table and sorted runs")
struct GoldScratchStructuresTests {
    @Test(arguments: [1, 40, 5_000])
    func wordTableHoldsWhatADictionaryHolds(keySpace: Int) {
        var rng = SplitMix64(seed: UInt64(keySpace))
        var table = WordTable<Int64>(filler: -1)
        var reference: [Int: Int64] = [:]
        // Keys that differ only in `a`, only in `b`, or in both (one key space of pairs).
        func key(_ n: Int) -> WordKey { WordKey(a: UInt64(n % 7) << 40, b: UInt64(n / 7)) }
        for round in 0..<3 {
            for _ in 0..<(keySpace * 4) {
                let n = rng.below(keySpace)
                let add = Int64(1 + rng.below(9))
                table.update(key(n), initial: 0) { $0 += add }
                reference[n, default: 0] += add
            }
            #expect(table.count == reference.count)
            for n in 0..<keySpace {
                #expect(table.value(key(n)) == reference[n], "round \(round), key \(n)")
            }
            var seen: [Int: Int64] = [:]
            table.forEach { key, value in seen[Int(key.b) * 7 + Int(key.a >> 40)] = value }
            #expect(seen == reference)
            table.removeAll()
            reference.removeAll()
            #expect(table.count == 0 && table.value(key(0)) == nil)
        }
    }

    @Test func mergeKeysOrderAsTheirParts() {
        let numbers: [Int64] = [.min, -86_400, -1, 0, 1, 19_000, .max]
        for a in numbers {
            for b in numbers {
                #expect((MergeKey.ordered(a) < MergeKey.ordered(b)) == (a < b), "\(a) \(b)")
            }
        }
        let ranks: [Int32] = [0, 1, 2, 65_535, .max]
        for a in ranks {
            for b in ranks {
                for c in ranks {
                    #expect((MergeKey.pack(a, b) < MergeKey.pack(a, c)) == (b < c))
                    #expect((MergeKey.pack(a, c) < MergeKey.pack(b, c)) == (a < b))
                }
            }
        }
        #expect(MergeKey(high: 1, low: .max) < MergeKey(high: 2, low: 0))
        #expect(MergeKey(high: 2, low: 0) < MergeKey(high: 2, low: 1))
        #expect(!(MergeKey(high: 2, low: 1) < MergeKey(high: 2, low: 1)))
    }

    private struct Record: Equatable {
        var key: Int64
        var value: Int64
    }

    @Test(arguments: [0, 1, 3, 17])
    func mergedRunsComeOutInOrderWithEveryRecord(runCount: Int) throws {
        var rng = SplitMix64(seed: UInt64(runCount) + 11)
        let runs = try SortedRuns<Record>()
        var all: [Record] = []
        for run in 0..<runCount {
            // Some runs longer than a read buffer, one empty, keys repeated across runs.
            let length = run == 1 ? 0 : rng.below(3 * SortedRuns<Record>.bufferRecords)
            // Negative keys too: the merge key orders them below the positive ones.
            let records = (0..<length).map { _ in Record(key: Int64(rng.below(500)) - 250, value: Int64(run))
            }
            .sorted { $0.key < $1.key }
            try runs.append(records)
            all += records
        }
        var merged: [Record] = []
        try runs.merge(key: { MergeKey(high: MergeKey.ordered($0.key)) }) { merged.append($0) }
        #expect(merged.count == all.count)
        // In key order; records of one key in the order of their runs.
        #expect(
            zip(merged, merged.dropFirst()).allSatisfy {
                $0.key < $1.key || ($0.key == $1.key && $0.value <= $1.value)
            })
        let byKey = { (records: [Record]) in
            records.sorted { ($0.key, $0.value) < ($1.key, $1.value) }
        }
        #expect(byKey(merged) == byKey(all))
    }

    /// The merge runs on a thread of its own: a caller that stops taking records (its body
    /// throws) gets its error, and the merging thread is gone, so the runs merge again.
    @Test func mergeStoppedByTheCallerEndsAndMergesAgain() throws {
        struct Stop: Error {}
        let runs = try SortedRuns<Record>()
        let perRun = 3 * SortedRuns<Record>.batchRecords
        for run in 0..<3 {
            try runs.append((0..<perRun).map { Record(key: Int64($0), value: Int64(run)) })
        }
        var taken = 0
        #expect(throws: Stop.self) {
            try runs.merge(key: { MergeKey(high: MergeKey.ordered($0.key)) }) { _ in
                taken += 1
                if taken == SortedRuns<Record>.batchRecords + 5 { throw Stop() }
            }
        }
        #expect(taken == SortedRuns<Record>.batchRecords + 5)
        var merged = 0
        try runs.merge(key: { MergeKey(high: MergeKey.ordered($0.key)) }) { _ in merged += 1 }
        #expect(merged == 3 * perRun)
    }

    /// Ranks computed a few numbers at a time (each call merges the new numbers into the
    /// order kept from the last) are those of sorting every id's bytes at once.
    @Test func idRanksGivenInStepsAreTheFullSorts() {
        var rng = SplitMix64(seed: 5)
        var ids = IdNumbers()
        var texts: [String] = []
        for step in 0..<6 {
            for _ in 0..<(step == 2 ? 0 : 1 + rng.below(300)) {
                // Short and long (over 15 bytes) ids, non-ASCII ones, shared prefixes.
                let text =
                    ["user_", "u", "épisode-", "a-long-prefix-of-more-than-15-bytes-"][rng.below(4)]
                    + String(rng.below(5_000))
                let number = Int(ids.number(text))
                if number == texts.count { texts.append(text) }
            }
            let ranks = ids.ranks()
            let order = texts.indices.sorted {
                Array(texts[$0].utf8).lexicographicallyPrecedes(Array(texts[$1].utf8))
            }
            var expected = [Int32](repeating: 0, count: texts.count)
            for (position, number) in order.enumerated() { expected[number] = Int32(position) }
            #expect(ranks == expected, "step \(step)")
        }
    }
}
