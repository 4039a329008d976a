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
            let records = (0..<length).map { _ in Record(key: Int64(rng.below(500)), value: Int64(run)) }
                .sorted { $0.key < $1.key }
            try runs.append(records)
            all += records
        }
        var merged: [Record] = []
        try runs.merge(by: { $0.key < $1.key }) { merged.append($0) }
        #expect(merged.count == all.count)
        #expect(zip(merged, merged.dropFirst()).allSatisfy { $0.key <= $1.key })
        let byKey = { (records: [Record]) in
            records.sorted { ($0.key, $0.value) < ($1.key, $1.value) }
        }
        #expect(byKey(merged) == byKey(all))
    }
}
