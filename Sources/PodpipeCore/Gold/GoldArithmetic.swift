import GRDB
import PodpipeRules

/// The arithmetic of gold on values that came from files, in one place for the Swift code
/// (full rebuild, batches) and the SQL steps (as SQL functions). It never traps and never
/// raises SQLite's "integer overflow": a database that holds absurd values (accepted before
/// the rules bounded them, or summed past what 64 bits hold) still refreshes.
///
/// - A silver duration enters gold at most as ``EventValidator/maxDurationSeconds`` (the
///   rule rejects longer ones today; older databases may hold them).
/// - Sums of durations and of rates saturate at `Int64.max` (``Int64/saturatingAdd(_:)``,
///   SQL `podpipe_add` and the aggregate `podpipe_sum`). Below the bound every sum is exact
///   and independent of order, as before; a saturated sum is a floor, not a value.
/// - A pair's listen-through rate round(10^9 × S / D) is computed in 128 bits (exact for
///   any S and D) and held at ``rateCapE9`` (a pair that listened a million times its
///   episode's length), so that a country's sum stays far below overflow.
/// - Events whose time lies past 9999-12-31 (``Timestamps/latestSupported``, accepted
///   before the rule bounded them) are left out of gold: no day, date text or SQLite date
///   function holds them. `podpipectl revalidate` rejects them.
enum GoldArithmetic {
    /// A pair's rate in units of 10^-9 never counts for more than this.
    static let rateCapE9: Int64 = 1_000_000 * 1_000_000_000

    /// The SQL condition on silver_event rows gold reads (see the type's comment).
    static let silverEventInRange = "ts <= \(Timestamps.latestSupported)"

    /// ``silverEventInRange`` in Swift: whether gold reads a silver event of time `ts`.
    @inlinable
    static func inRange(ts: Int64) -> Bool { ts <= Timestamps.latestSupported }

    /// A silver duration as gold counts it: in 0...maxDurationSeconds.
    @inlinable
    static func duration(_ seconds: Int64) -> Int64 {
        min(max(seconds, 0), EventValidator.maxDurationSeconds)
    }

    /// round(10^9 × `sum` / `episodeSeconds`) (halves up), held in 0...``rateCapE9``; 0 for
    /// a non-positive duration. The same value as the exact integer formula
    /// (S / D) × 10^9 + ((S % D) × 10^9 + D / 2) / D that gold used before, wherever that
    /// formula did not overflow.
    static func rateE9(sum: Int64, episodeSeconds: Int64) -> Int64 {
        guard sum > 0, episodeSeconds > 0 else { return 0 }
        let divisor = Int128(episodeSeconds)
        let rate = (Int128(sum) * 1_000_000_000 + divisor / 2) / divisor
        return rate >= Int128(rateCapE9) ? rateCapE9 : Int64(rate)
    }

    /// Makes `podpipe_add(a, b)`, `podpipe_rate_e9(s, d)` and the aggregate `podpipe_sum(x)`
    /// available to the SQL of this connection (the refresh calls it each time: the writer
    /// may be any connection, and re-registering replaces).
    static func register(on db: Database) {
        db.add(function: add)
        db.add(function: rate)
        db.add(function: sum)
    }

    private static let add = DatabaseFunction("podpipe_add", argumentCount: 2, pure: true) { values in
        guard let a = Int64.fromDatabaseValue(values[0]) else { return values[0] }
        guard let b = Int64.fromDatabaseValue(values[1]) else { return values[1] }
        return a.saturatingAdd(b)
    }

    private static let rate = DatabaseFunction("podpipe_rate_e9", argumentCount: 2, pure: true) { values in
        guard let s = Int64.fromDatabaseValue(values[0]), let d = Int64.fromDatabaseValue(values[1]) else {
            return nil
        }
        return rateE9(sum: s, episodeSeconds: d)
    }

    private static let sum = DatabaseFunction(
        "podpipe_sum", argumentCount: 1, pure: true, aggregate: SaturatingSum.self)

    /// SUM over integers that saturates instead of failing with "integer overflow"; NULL
    /// without a non-NULL input, like SUM.
    private struct SaturatingSum: DatabaseAggregate {
        var total: Int64?

        init() {}

        mutating func step(_ values: [DatabaseValue]) throws {
            guard let value = Int64.fromDatabaseValue(values[0]) else { return }
            total = (total ?? 0).saturatingAdd(value)
        }

        func finalize() throws -> (any DatabaseValueConvertible)? { total }
    }
}
