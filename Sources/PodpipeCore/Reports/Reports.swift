import Foundation
import GRDB

/// The analysis reports of `podpipectl report …` (SPEC §5, §8).
public enum ReportKind: String, CaseIterable, Sendable {
    /// Top 10 completed episodes over the last 7 UTC days (or the 7 days ending `--as-of`).
    case topEpisodes = "top-episodes"
    /// Average listen-through rate by the user's country.
    case listenThrough = "listen-through"
    /// Users who listened to 3+ different episodes on one UTC day (total, or `--by-day`).
    case multiEpisodeUsers = "multi-episode-users"
    /// Users active in week / month N after signup, by signup month.
    case cohortRetention = "cohort-retention"
    /// Plays, completions, completion rate, unique listeners per episode.
    case episodePerformance = "episode-performance"
    /// Events by type and active users per UTC day.
    case dailyActivity = "daily-activity"
    /// Engagement by episode length bucket.
    case engagementByLength = "engagement-by-length"
    /// Podcast metrics (plays, listeners, engaged listeners, qualified plays, time listened,
    /// average consumption) per episode or podcast, over a window of days or per day.
    case podcastMetrics = "podcast-metrics"
}

/// What one row of `podcast-metrics` is about (`--by`).
public enum MetricsGrouping: String, CaseIterable, Sendable {
    /// One row per episode (with its podcast and title).
    case episode
    /// One row per podcast; episodes not in the reference data form the podcast `''`.
    case podcast
}

/// Options of a report run.
public struct ReportOptions: Sendable {
    /// `YYYY-MM-DD`: the last day of the top-episodes and podcast-metrics windows (other
    /// reports ignore it, but an invalid value is always an error). nil: the date of the
    /// latest valid event.
    var asOf: String?
    /// multi-episode-users, podcast-metrics: one row per day instead of the total.
    var byDay: Bool
    /// podcast-metrics: the number of UTC days of the window ending on `asOf` (1 ... 3,660).
    var days: Int
    /// podcast-metrics: one row per episode or per podcast.
    var grouping: MetricsGrouping
    /// podcast-metrics: rows with fewer listeners show every metric as NULL (0 = none).
    var minListeners: Int

    /// The largest `days`: ten years.
    public static let maxDays = 3_660
    /// The largest `minListeners`.
    public static let maxMinListeners = 1_000_000_000

    /// Creates options; the defaults are the SPEC's defaults (and, for podcast-metrics, the
    /// 7 days of top-episodes, per episode, no threshold).
    public init(
        asOf: String? = nil, byDay: Bool = false, days: Int = 7, grouping: MetricsGrouping = .episode,
        minListeners: Int = 0
    ) {
        self.asOf = asOf
        self.byDay = byDay
        self.days = days
        self.grouping = grouping
        self.minListeners = minListeners
    }
}

/// A report's result: column names and typed rows, ready for a ``ReportRenderer``.
public struct ReportTable: Sendable, Equatable {
    /// Column names, in output order (the CSV header).
    var columns: [String]
    /// One array of values per row, in column order.
    public var rows: [[ReportValue]]

    /// Creates a table; every row should have one value per column.
    init(columns: [String], rows: [[ReportValue]]) {
        self.columns = columns
        self.rows = rows
    }
}

/// One cell of a report.
public enum ReportValue: Sendable, Equatable {
    /// No value: empty in CSV and table output, `null` in JSON.
    case null
    /// An integer, rendered in decimal.
    case integer(Int64)
    /// A real number and the number of decimals it is rendered with (always that many).
    case real(Double, decimals: Int)
    /// Text, quoted in CSV only when it needs it (RFC 4180).
    case text(String)
}

/// Errors of the reports, with what to do about them.
enum ReportError: Error, CustomStringConvertible, Equatable {
    /// `--as-of` is not a real calendar date written `YYYY-MM-DD`.
    case invalidAsOf(String)
    /// The database predates the gold layer (migration 0002 not applied).
    case goldMissing
    /// Gold tables exist but were never refreshed.
    case goldNotRefreshed
    /// `--days` is outside 1 ... ``ReportOptions/maxDays``.
    case invalidDays(Int)
    /// `--min-listeners` is outside 0 ... ``ReportOptions/maxMinListeners``.
    case invalidMinListeners(Int)

    var description: String {
        switch self {
        case .invalidAsOf(let value):
            "invalid --as-of date \"\(value)\": expected a real calendar date written YYYY-MM-DD, e.g. 2024-04-21"
        case .goldMissing:
            "this database has no gold tables (it was created by an older podpipe): run `podpiped --once` with this version to upgrade and refresh it"
        case .goldNotRefreshed:
            "gold has not been refreshed yet in this database: run `podpiped --once` (or start the daemon) and try again"
        case .invalidDays(let value):
            "invalid --days \(value): expected a number of days from 1 to \(ReportOptions.maxDays)"
        case .invalidMinListeners(let value):
            "invalid --min-listeners \(value): expected 0 (no threshold) to \(ReportOptions.maxMinListeners)"
        }
    }
}

/// Runs the reports. Read-only: every report is one SELECT over the gold tables and views,
/// through the read seam (``QueryRunner``): SQLite's `SQL/reports/*.sql` or PostgreSQL's
/// `SQL/postgres/reports/*.sql`, the same columns and order.
public enum Reports {
    /// Runs `kind` on a SQLite connection (inside the caller's read transaction).
    public static func run(_ kind: ReportKind, options: ReportOptions, in db: Database)
        throws -> ReportTable
    {
        try run(kind, options: options, on: SQLiteQueries(db: db))
    }

    /// Runs `kind` and returns its table (columns in the order of SPEC §8 for the three
    /// contract reports). Reals are rates, rendered with six decimals.
    ///
    /// - Throws: ``ReportError`` for an invalid `asOf` or a database without refreshed gold;
    ///   the engine's error for database failures.
    static func run(_ kind: ReportKind, options: ReportOptions, on store: some QueryRunner)
        throws -> ReportTable
    {
        var asOfDay: Int64?
        if let asOf = options.asOf {
            guard let day = GoldClock.parseDay(asOf) else { throw ReportError.invalidAsOf(asOf) }
            asOfDay = day
        }
        guard (1...ReportOptions.maxDays).contains(options.days) else {
            throw ReportError.invalidDays(options.days)
        }
        guard (0...ReportOptions.maxMinListeners).contains(options.minListeners) else {
            throw ReportError.invalidMinListeners(options.minListeners)
        }
        guard try store.relationExists("gold_top_episodes_7d") else { throw ReportError.goldMissing }
        guard try store.pipelineState(.goldRefreshedAt) != nil else {
            throw ReportError.goldNotRefreshed
        }

        let sql: String
        var parameters: [ReportValue] = []
        switch kind {
        case .topEpisodes:
            if let asOfDay {
                // The same model the refresher materializes, for another window end.
                let model = try store.resource("gold", "gold_top_episodes_7d")
                sql = """
                    SELECT rank, episode_id, title, podcast_id, completions FROM (
                    \(model)
                    ) AS model ORDER BY rank
                    """
                parameters = [.integer(asOfDay)]
            } else {
                sql = try store.resource("reports", "top_episodes")
            }
        case .listenThrough:
            sql = try store.resource("reports", "listen_through")
        case .multiEpisodeUsers:
            sql = try store.resource(
                "reports", options.byDay ? "multi_episode_users_by_day" : "multi_episode_users")
        case .cohortRetention:
            sql = try store.resource("reports", "cohort_retention")
        case .episodePerformance:
            sql = try store.resource("reports", "episode_performance")
        case .dailyActivity:
            sql = try store.resource("reports", "daily_activity")
        case .engagementByLength:
            sql = try store.resource("reports", "engagement_by_length")
        case .podcastMetrics:
            let model = try store.resource("reports", "podcast_metrics")
            let columns = podcastMetricsColumns(options)
            sql = """
                SELECT \(columns.joined(separator: ", ")) FROM (
                \(model)
                ) AS model ORDER BY day, podcast_id, episode_id
                """
            // In the order the model's parameters first appear: as_of_day, days, by_day,
            // by_podcast, min_listeners ($1 … $5 in PostgreSQL's).
            parameters = [
                asOfDay.map(ReportValue.integer) ?? .null, .integer(Int64(options.days)),
                .integer(options.byDay ? 1 : 0), .integer(options.grouping == .podcast ? 1 : 0),
                .integer(Int64(options.minListeners)),
            ]
        }
        return try store.table(sql, parameters)
    }

    /// The columns of podcast-metrics: the period (`day`, or the window's first and last
    /// day), the member (a podcast, or an episode with its podcast and title), the metrics.
    static func podcastMetricsColumns(_ options: ReportOptions) -> [String] {
        let period = options.byDay ? ["day"] : ["window_start", "window_end"]
        let member = options.grouping == .podcast ? ["podcast_id"] : ["podcast_id", "episode_id", "title"]
        return period + member + [
            "plays", "listeners", "engaged_listeners", "qualified_plays", "time_listened_seconds",
            "avg_consumption",
        ]
    }

    /// Decimals of real columns (all reals of the reports are rates or averages).
    static let realDecimals = 6

    static func table(_ db: Database, sql: String, arguments: StatementArguments) throws
        -> ReportTable
    {
        let statement = try db.makeStatement(sql: sql)
        try statement.setArguments(arguments)
        let columns = statement.columnNames
        var rows: [[ReportValue]] = []
        let cursor = try Row.fetchCursor(statement)
        while let row = try cursor.next() {
            var values: [ReportValue] = []
            values.reserveCapacity(columns.count)
            for index in 0..<columns.count {
                let dbValue: DatabaseValue = row[index]
                switch dbValue.storage {
                case .null: values.append(.null)
                case .int64(let value): values.append(.integer(value))
                case .double(let value): values.append(.real(value, decimals: realDecimals))
                case .string(let value): values.append(.text(value))
                case .blob(let data): values.append(.text(String(decoding: data, as: UTF8.self)))
                }
            }
            rows.append(values)
        }
        return ReportTable(columns: columns, rows: rows)
    }
}
