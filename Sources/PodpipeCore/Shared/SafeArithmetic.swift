import Foundation

// Arithmetic on values that come from outside (a file's bytes or name, a stat, the
// configuration, the database written from them) must never trap: Swift's `+`, `*` and
// integer conversions stop the process on overflow. The conversions and sums such values go
// through live here, each with the reason it clamps rather than rejects.

extension Int64 {
    /// `self + other`, held at `Int64.max` / `Int64.min` instead of overflowing.
    @inlinable
    func saturatingAdd(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        guard overflow else { return sum }
        return other > 0 ? .max : .min
    }

    /// `self * other`, held at `Int64.max` / `Int64.min` instead of overflowing.
    @inlinable
    func saturatingMultiply(_ other: Int64) -> Int64 {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        guard overflow else { return product }
        return (self < 0) == (other < 0) ? .max : .min
    }

    /// A Double as the nearest Int64, held at the bounds; NaN is 0. (`Int64(x)` traps on
    /// a non-finite or out-of-range x.)
    @inlinable
    init(clamping value: Double) {
        if value.isNaN {
            self = 0
        } else if value >= 9_223_372_036_854_775_807.0 {
            self = .max
        } else if value <= -9_223_372_036_854_775_808.0 {
            self = .min
        } else {
            self = Int64(value)
        }
    }
}

/// A file's modification time in nanoseconds since 1970, as the ledger and the folder
/// order use it. Int64 nanoseconds end in April 2262 and start in 1677: a file stamped
/// outside (`touch -d 2300-01-01`, a broken archive) is clamped to the bound rather than
/// rejected, because the time only orders files (ties break by name) and is shown to
/// operators; its bytes are what identify it. (`tv_sec * 1_000_000_000` trapped.)
enum FileTime {
    static func nanoseconds(seconds: Int, nanoseconds: Int) -> Int64 {
        Int64(seconds).saturatingMultiply(1_000_000_000).saturatingAdd(Int64(nanoseconds))
    }

    /// The modification time of a `stat` result.
    static func modification(_ st: stat) -> Int64 {
        nanoseconds(seconds: st.st_mtim.tv_sec, nanoseconds: st.st_mtim.tv_nsec)
    }

    /// The status-change time (ctime) of a `stat` result: set by the kernel whenever the
    /// file's bytes or attributes change, and, unlike the modification time, not settable
    /// by `touch`, `cp -p`, `rsync -t` or an archive extraction.
    static func statusChange(_ st: stat) -> Int64 {
        nanoseconds(seconds: st.st_ctim.tv_sec, nanoseconds: st.st_ctim.tv_nsec)
    }
}
