import Foundation

/// One metric family: a name, its help, its type and its samples, as the Prometheus text
/// exposition format (version 0.0.4) writes them.
///
/// Hand-written rather than swift-metrics with swift-prometheus: those keep process-local
/// counters and histograms that code increments as things happen, and export what this
/// process saw since it started. podpipe's numbers are the database's (the ledger, gold,
/// the daemon's row) and are read when asked — by `podpipectl metrics`, which never saw
/// an ingest, and by the writer after each pass — so every export would build a new
/// registry and replay the ledger into it (one histogram observation per file), for the
/// ~150 lines this renderer and its tests take. It is tested against the format
/// (escaping, cumulative buckets, `+Inf`, `_sum`/`_count`) and, where it is installed,
/// with `promtool check metrics`.
struct MetricFamily: Sendable, Equatable {
    enum Kind: String, Sendable {
        case counter
        case gauge
        case histogram
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`; a counter's ends in `_total`.
    var name: String
    var help: String
    var kind: Kind
    /// Counter and gauge samples.
    var samples: [MetricSample] = []
    /// Histogram samples (one per label set).
    var histograms: [HistogramSample] = []

    init(_ name: String, _ kind: Kind, help: String, samples: [MetricSample] = []) {
        self.name = name
        self.kind = kind
        self.help = help
        self.samples = samples
    }

    init(histogram name: String, help: String, _ histograms: [HistogramSample]) {
        self.name = name
        self.kind = .histogram
        self.help = help
        self.histograms = histograms
    }

    var isEmpty: Bool { samples.isEmpty && histograms.isEmpty }
}

/// A label: its name (`[a-zA-Z_][a-zA-Z0-9_]*`, set by podpipe) and its value (any text,
/// escaped by the renderer: it may come from the database).
struct MetricLabel: Sendable, Equatable {
    var name: String
    var value: String

    init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

struct MetricSample: Sendable, Equatable {
    var labels: [MetricLabel]
    var value: Double

    init(_ value: Double, _ labels: [MetricLabel] = []) {
        self.labels = labels
        self.value = value
    }

    init(_ value: Int64, _ labels: [MetricLabel] = []) {
        self.init(Double(value), labels)
    }
}

/// One histogram: the count of observations at or below each upper bound (cumulative, as
/// the format wants), their count and their sum.
struct HistogramSample: Sendable, Equatable {
    var labels: [MetricLabel]
    /// (upper bound, observations ≤ it), bounds increasing; `+Inf` is added by the
    /// renderer with ``count``.
    var buckets: [(upperBound: Double, cumulativeCount: Int64)]
    var count: Int64
    var sum: Double

    /// The histogram of `observations` (a value and how many times it was seen) over the
    /// increasing, finite `bounds`. Counts saturate instead of trapping. `sum`: the exact
    /// sum when the caller has it (integer milliseconds), else added up here.
    init(
        bounds: [Double], observations: [(value: Double, times: Int64)], labels: [MetricLabel] = [],
        sum exactSum: Double? = nil
    ) {
        self.labels = labels
        var perBucket = [Int64](repeating: 0, count: bounds.count)
        var count: Int64 = 0
        var sum = 0.0
        for (value, times) in observations where times > 0 {
            count = count.addingReportingOverflow(times).overflow ? .max : count + times
            sum += value * Double(times)
            // The first bound the value does not exceed (le: less than or equal).
            if let index = bounds.firstIndex(where: { value <= $0 }) {
                perBucket[index] =
                    perBucket[index].addingReportingOverflow(times).overflow ? .max : perBucket[index] + times
            }
        }
        var running: Int64 = 0
        buckets = zip(bounds, perBucket).map { bound, n in
            running = running.addingReportingOverflow(n).overflow ? .max : running + n
            return (bound, running)
        }
        self.count = count
        self.sum = exactSum ?? sum
    }

    static func == (lhs: HistogramSample, rhs: HistogramSample) -> Bool {
        lhs.labels == rhs.labels && lhs.count == rhs.count && lhs.sum == rhs.sum
            && lhs.buckets.map(\.upperBound) == rhs.buckets.map(\.upperBound)
            && lhs.buckets.map(\.cumulativeCount) == rhs.buckets.map(\.cumulativeCount)
    }
}

/// The Prometheus text exposition format (0.0.4): `# HELP`, `# TYPE`, then one line per
/// sample, families in the order given, each family once. Families without samples are
/// left out (a metric with nothing to say is absent, not zero).
enum PrometheusText {
    /// The `Content-Type` of this format, for anything that serves it.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    static func render(_ families: [MetricFamily]) -> String {
        var out = ""
        for family in families where !family.isEmpty {
            out += "# HELP \(family.name) \(escapeHelp(family.help))\n"
            out += "# TYPE \(family.name) \(family.kind.rawValue)\n"
            for sample in family.samples {
                out += "\(family.name)\(labelSet(sample.labels)) \(number(sample.value))\n"
            }
            for histogram in family.histograms {
                for bucket in histogram.buckets {
                    let labels = histogram.labels + [MetricLabel("le", number(bucket.upperBound))]
                    out += "\(family.name)_bucket\(labelSet(labels)) \(bucket.cumulativeCount)\n"
                }
                let all = histogram.labels + [MetricLabel("le", "+Inf")]
                out += "\(family.name)_bucket\(labelSet(all)) \(histogram.count)\n"
                out += "\(family.name)_sum\(labelSet(histogram.labels)) \(number(histogram.sum))\n"
                out += "\(family.name)_count\(labelSet(histogram.labels)) \(histogram.count)\n"
            }
        }
        return out
    }

    /// `{a="x",b="y"}`, or nothing without labels.
    static func labelSet(_ labels: [MetricLabel]) -> String {
        guard !labels.isEmpty else { return "" }
        return "{" + labels.map { "\($0.name)=\"\(escapeLabelValue($0.value))\"" }.joined(separator: ",")
            + "}"
    }

    /// A label value: backslash, double quote and line feed escaped as `\\`, `\"`, `\n`
    /// (the format's only escapes; every other character, a CR or a control too, stands
    /// for itself in valid UTF-8).
    static func escapeLabelValue(_ value: String) -> String {
        guard value.unicodeScalars.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else {
            return value
        }
        var out = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Help text: backslash and line feed escaped (a double quote stands for itself).
    static func escapeHelp(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A sample value: whole numbers without a fraction (`42`), others in Swift's shortest
    /// round-trip form (`0.25`, `1e+20`), and `+Inf`, `-Inf`, `NaN`.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        if value.rounded(.towardZero) == value && abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// Whether `name` is a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`); label names are
    /// the same without `:`.
    static func isValidName(_ name: String, label: Bool = false) -> Bool {
        guard let first = name.unicodeScalars.first else { return false }
        func allowed(_ c: Unicode.Scalar, leading: Bool) -> Bool {
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" || (!label && c == ":")
                || (!leading && c >= "0" && c <= "9")
        }
        return allowed(first, leading: true)
            && name.unicodeScalars.dropFirst().allSatisfy { allowed($0, leading: false) }
    }
}
