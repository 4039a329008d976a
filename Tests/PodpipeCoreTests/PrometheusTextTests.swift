import Foundation
import Testing

@testable import PodpipeCore

/// The hand-written Prometheus text renderer against the exposition format (0.0.4).
@Suite("Prometheus text format")
struct PrometheusTextTests {
    @Test func labelValuesEscapeBackslashQuoteAndLineFeedOnly() {
        #expect(PrometheusText.escapeLabelValue("plain") == "plain")
        #expect(PrometheusText.escapeLabelValue(#"a\b"#) == #"a\\b"#)
        #expect(PrometheusText.escapeLabelValue(#"say "hi""#) == #"say \"hi\""#)
        #expect(PrometheusText.escapeLabelValue("two\nlines") == #"two\nlines"#)
        // A CR LF pair is one Character in Swift: its LF is escaped all the same.
        #expect(PrometheusText.escapeLabelValue("dos\r\nline") == "dos\r\\nline")
        #expect(PrometheusText.escapeLabelValue("tab\tand é") == "tab\tand é")
        #expect(PrometheusText.escapeLabelValue(#"\"#) == #"\\"#)
    }

    @Test func helpEscapesBackslashAndLineFeedButNotQuotes() {
        #expect(PrometheusText.escapeHelp("a \"b\" c\\d\ne") == #"a "b" c\\d\ne"#)
    }

    @Test func numbersAreWholeWhenWholeAndSpellInfinityAndNaN() {
        #expect(PrometheusText.number(42) == "42")
        #expect(PrometheusText.number(0) == "0")
        #expect(PrometheusText.number(-3) == "-3")
        #expect(PrometheusText.number(0.25) == "0.25")
        #expect(PrometheusText.number(1.5e300) == "1.5e+300")
        #expect(PrometheusText.number(.infinity) == "+Inf")
        #expect(PrometheusText.number(-.infinity) == "-Inf")
        #expect(PrometheusText.number(.nan) == "NaN")
        #expect(Double(PrometheusText.number(1_234_567.125)) == 1_234_567.125)
    }

    @Test func aFamilyHasHelpTypeAndOneLinePerSample() {
        let text = PrometheusText.render([
            MetricFamily(
                "podpipe_files", .gauge, help: "Ledger rows.",
                samples: [
                    MetricSample(Int64(3), [MetricLabel("kind", "events"), MetricLabel("state", "loaded")]),
                    MetricSample(Int64(1), [MetricLabel("kind", "users"), MetricLabel("state", "rejected")]),
                ]),
            MetricFamily("podpipe_daemon_up", .gauge, help: "Up.", samples: [MetricSample(Int64(0))]),
            MetricFamily("podpipe_empty_total", .counter, help: "Nothing to say: left out."),
        ])
        #expect(
            text == """
                # HELP podpipe_files Ledger rows.
                # TYPE podpipe_files gauge
                podpipe_files{kind="events",state="loaded"} 3
                podpipe_files{kind="users",state="rejected"} 1
                # HELP podpipe_daemon_up Up.
                # TYPE podpipe_daemon_up gauge
                podpipe_daemon_up 0

                """)
    }

    @Test func aLabelValueFromTheDatabaseCannotBreakTheLine() {
        let hostile = "x\"} 1\npodpipe_fake 99\n# TYPE"
        let text = PrometheusText.render([
            MetricFamily(
                "podpipe_codes_total", .counter, help: "Codes.",
                samples: [MetricSample(Int64(7), [MetricLabel("code", hostile)])])
        ])
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 4)  // HELP, TYPE, the sample, the final empty string
        #expect(lines[2] == #"podpipe_codes_total{code="x\"} 1\npodpipe_fake 99\n# TYPE"} 7"#)
    }

    @Test func histogramBucketsAreCumulativeWithInfSumAndCount() {
        // 0.004 s ×2, 0.01 s (on a bound: le is "less than or equal"), 0.3 s, 7 s, 4000 s.
        let histogram = HistogramSample(
            bounds: [0.01, 0.5, 10],
            observations: [(0.004, 2), (0.01, 1), (0.3, 1), (7, 1), (4000, 1), (1, 0)],
            labels: [MetricLabel("kind", "events")])
        #expect(histogram.buckets.map(\.cumulativeCount) == [3, 4, 5])
        #expect(histogram.count == 6)
        #expect(abs(histogram.sum - 4007.318) < 1e-9)
        let text = PrometheusText.render([
            MetricFamily(histogram: "podpipe_file_load_seconds", help: "Load time.", [histogram])
        ])
        #expect(
            text == """
                # HELP podpipe_file_load_seconds Load time.
                # TYPE podpipe_file_load_seconds histogram
                podpipe_file_load_seconds_bucket{kind="events",le="0.01"} 3
                podpipe_file_load_seconds_bucket{kind="events",le="0.5"} 4
                podpipe_file_load_seconds_bucket{kind="events",le="10"} 5
                podpipe_file_load_seconds_bucket{kind="events",le="+Inf"} 6
                podpipe_file_load_seconds_sum{kind="events"} 4007.318
                podpipe_file_load_seconds_count{kind="events"} 6

                """)
    }

    @Test func histogramCountsSaturateInsteadOfTrapping() {
        let histogram = HistogramSample(bounds: [1], observations: [(0.5, .max), (0.5, .max), (2, 5)])
        #expect(histogram.count == .max)
        #expect(histogram.buckets.map(\.cumulativeCount) == [.max])
    }

    @Test func metricAndLabelNamesAreChecked() {
        #expect(PrometheusText.isValidName("podpipe_rows_total"))
        #expect(PrometheusText.isValidName("ns:metric"))
        #expect(!PrometheusText.isValidName("ns:metric", label: true))
        #expect(!PrometheusText.isValidName("2xx"))
        #expect(!PrometheusText.isValidName("with-dash"))
        #expect(!PrometheusText.isValidName(""))
    }

    /// Every family podpipe exports, from a snapshot built by hand: valid names, counters
    /// end in `_total` and nothing else does, base units, each family once.
    @Test func podpipesFamiliesFollowTheNamingConventions() {
        var snapshot = MetricsSnapshot(status: Self.status(), now: Date(timeIntervalSince1970: 1_800_000_000))
        snapshot.ledger = [
            .init(
                kind: "events", state: "loaded", files: 3, rowsRead: 100, rowsLoaded: 90, rowsRejected: 6,
                rowsDuplicate: 4, bytes: 9000, retries: 1),
            .init(
                kind: "events", state: "rejected", files: 1, rowsRead: 5, rowsLoaded: 0, rowsRejected: 5,
                rowsDuplicate: 0, bytes: 50, retries: 0),
            .init(
                kind: "events", state: "duplicate", files: 1, rowsRead: 100, rowsLoaded: 0, rowsRejected: 0,
                rowsDuplicate: 0, bytes: 9000, retries: 0),
        ]
        snapshot.loadDurations = [("events", 12, 2), ("events", 1500, 1)]
        snapshot.rejectedCodes = [("events", "malformed_json", 5), ("events", "missing_user_id", 6)]
        snapshot.tableRows = [("silver", "silver_event", 90), ("gold", "gold_agg_day", 3)]
        snapshot.goldRefreshMilliseconds = 250
        let families = snapshot.families()
        #expect(Set(families.map(\.name)).count == families.count)
        for family in families {
            #expect(PrometheusText.isValidName(family.name), "\(family.name)")
            #expect(family.name.hasPrefix("podpipe_"))
            #expect((family.kind == .counter) == family.name.hasSuffix("_total"), "\(family.name)")
            #expect(!family.name.contains("milliseconds") && !family.name.contains("_ms"))
            for sample in family.samples {
                for label in sample.labels { #expect(PrometheusText.isValidName(label.name, label: true)) }
            }
        }
        let text = snapshot.text()
        #expect(text.contains("podpipe_rows_total{layer=\"bronze\",kind=\"events\"} 105\n"))
        #expect(text.contains("podpipe_rows_total{layer=\"silver\",kind=\"events\"} 90\n"))
        #expect(text.contains("podpipe_read_bytes_total{kind=\"events\"} 18050\n"))
        #expect(text.contains("podpipe_file_load_seconds_bucket{kind=\"events\",le=\"0.025\"} 2\n"))
        #expect(text.contains("podpipe_file_load_seconds_bucket{kind=\"events\",le=\"2.5\"} 3\n"))
        #expect(text.contains("podpipe_file_load_seconds_sum{kind=\"events\"} 1.524\n"))
        #expect(text.contains("podpipe_gold_refresh_duration_seconds 0.25\n"))
        #expect(
            text.contains("podpipe_rejected_row_codes_total{kind=\"events\",code=\"missing_user_id\"} 6\n"))
    }

    @Test func theDaemonsTextfileWaitBoundsTheCollectionsShareOfItsTime() {
        #expect(DaemonTiming.metricsDelay(dirty: true, lastCost: 0.01) == DaemonTiming.metricsMinInterval)
        #expect(DaemonTiming.metricsDelay(dirty: false, lastCost: 0.01) == DaemonTiming.metricsInterval)
        #expect(DaemonTiming.metricsDelay(dirty: true, lastCost: 5) == 100)  // 5% of the writer's time
        #expect(
            DaemonTiming.metricsDelay(dirty: true, lastCost: .infinity) == DaemonTiming.metricsMinInterval)
        #expect(DaemonTiming.metricsDelay(dirty: false, lastCost: -1) == DaemonTiming.metricsInterval)
    }

    static func status() -> StatusReport {
        StatusReport(
            database: "/db", folder: "/in", watchMode: "poll",
            daemon: .gather(nil, writerActive: false, now: Date()), files: .init(), rows: .init(),
            rejectRate: 0, gold: .init(refreshedAt: nil, stale: false, ageSeconds: nil), lastErrors: [],
            ignoredNames: [], healthy: true, problems: [],
            health: .init(maxBacklogAgeSeconds: 900, maxPassAgeSeconds: 3600))
    }
}
