-- report podcast-metrics (PostgreSQL; SQLite's is SQL/reports/podcast_metrics.sql) — `podpipectl report podcast-metrics [--by episode|podcast]
-- [--by-day] [--as-of DATE] [--days N] [--min-listeners N]`. Definitions and their sources
-- (Apple Podcasts Connect, Spotify for Podcasters, IAB v2.2): doc/analysts.md, "Podcast
-- metrics". Computed from silver_event at report time (no gold table): every number of a
-- day depends on that day's events only, so the cost follows the window's events.
--
-- Grain: one member (:by_podcast = 0: an episode; 1: a podcast) per UTC day (:by_day = 1)
-- or over the window (:by_day = 0), for members with at least one session in the window
-- (a session of pauses or seeks only counts as a row with 0 listeners). The window: the :days UTC days ending on :as_of_day (days since 1970-01-01;
-- NULL = the day of the latest valid event), both ends included.
--
-- Sessions, from the events of one user × episode × UTC day, ordered by timestamp (then
-- play, seek, pause, complete within one second):
--   * an event ends at its timestamp, a play at timestamp + duration (its seconds played);
--   * a session is a run of events in which each event comes at most 1,800 s (30 min) after
--     the previous one ended, and which a complete closes (the next event opens a new one);
--     a session never crosses UTC midnight;
--   * its listened seconds = max(Σ its plays' durations, its complete's duration): a
--     complete's duration is the seconds listened to the episode, so a listen counts once
--     whether its plays, its complete or both arrived.
-- Metrics of a member and period:
--   plays                 play events (each "play pressed", always > 0 s)
--   listeners             distinct users with a session of > 0 s
--   engaged_listeners     distinct users with a session of ≥ 1,200 s (20 min) or ≥ 40 % of
--                         the episode's duration_seconds (unknown episodes: 20 min only)
--   qualified_plays       (user, episode, UTC day) triples with ≥ 60 s listened that day
--   time_listened_seconds Σ listened seconds of the sessions
--   avg_consumption       time_listened_seconds / Σ over the member's episodes of
--                         (listeners of the episode × its duration_seconds); may exceed 1
--                         (re-listening); NULL for unknown episodes ('' podcast_id)
-- :min_listeners (0 = none): a row with fewer listeners keeps its keys and shows every
-- metric NULL (Apple hides counts under 5 listeners).
-- Unknown episodes (not in the reference data): empty title and podcast_id; by podcast
-- they form the podcast ''.
-- PostgreSQL: parameters $1 … $5 are as_of_day, days, by_day, by_podcast, min_listeners
-- (the order in which SQLite's named parameters first appear); sums are cast back to
-- bigint (PostgreSQL's SUM of bigint is numeric); text sorts in byte order (COLLATE "C").
WITH
    anchor (hi) AS (
        SELECT COALESCE($1::bigint, (SELECT MAX(day) FROM gold_agg_day))),
    window_days (lo, hi) AS (
        SELECT hi - ($2::bigint - 1), hi FROM anchor WHERE hi IS NOT NULL),
    ordered AS (
        SELECT
            e.user_id, e.episode_id, e.event_type, e.ts, e.duration,
            e.ts / 86400 AS day,
            CASE e.event_type WHEN 'play' THEN 0 WHEN 'seek' THEN 1 WHEN 'pause' THEN 2 ELSE 3
            END AS type_order
        FROM silver_event AS e, window_days AS w
        WHERE e.ts >= w.lo * 86400 AND e.ts < (w.hi + 1) * 86400),
    chained AS (
        SELECT
            o.*,
            LAG(o.event_type) OVER pair_day AS previous_type,
            LAG(CASE WHEN o.event_type = 'play' THEN o.ts + o.duration ELSE o.ts END)
                OVER pair_day AS previous_end
        FROM ordered AS o
        WINDOW pair_day AS (
            PARTITION BY o.user_id, o.episode_id, o.day ORDER BY o.ts, o.type_order)),
    numbered AS (
        SELECT
            c.*,
            SUM(CASE
                WHEN c.previous_type IS NULL OR c.previous_type = 'complete'
                     OR c.ts > c.previous_end + 1800 THEN 1 ELSE 0 END)
                OVER (PARTITION BY c.user_id, c.episode_id, c.day ORDER BY c.ts, c.type_order
                      ROWS UNBOUNDED PRECEDING) AS session_no
        FROM chained AS c),
    sessions AS (
        SELECT
            n.user_id, n.episode_id, n.day,
            GREATEST(
                COALESCE(SUM(CASE WHEN n.event_type = 'play' THEN n.duration END), 0)::bigint,
                COALESCE(MAX(CASE WHEN n.event_type = 'complete' THEN n.duration END), 0))
                AS listened,
            COUNT(*) FILTER (WHERE n.event_type = 'play') AS plays
        FROM numbered AS n
        GROUP BY n.user_id, n.episode_id, n.day, n.session_no),
    described AS (
        SELECT
            s.*,
            CASE WHEN $3::bigint <> 0 THEN s.day END AS period,
            CASE WHEN $4::bigint <> 0 THEN COALESCE(ep.podcast_id, '') ELSE s.episode_id END
                AS member,
            COALESCE(ep.podcast_id, '') AS podcast_id,
            ep.duration_seconds,
            (s.listened >= 1200
                OR (ep.duration_seconds > 0 AND s.listened * 5 >= ep.duration_seconds * 2))
                AS engaged
        FROM sessions AS s
        LEFT JOIN silver_episode AS ep ON ep.episode_id = s.episode_id),
    qualified (period, member, triples) AS (
        SELECT period, member, COUNT(*) FILTER (WHERE seconds >= 60)
        FROM (
            SELECT period, member, SUM(listened) AS seconds
            FROM described
            GROUP BY period, member, user_id, episode_id, day) AS per_triple
        GROUP BY period, member),
    capacity (period, member, seconds) AS (
        SELECT period, member, SUM(listeners * duration_seconds)::bigint
        FROM (
            SELECT period, member, duration_seconds,
                   COUNT(DISTINCT CASE WHEN listened > 0 THEN user_id END) AS listeners
            FROM described
            GROUP BY period, member, episode_id, duration_seconds) AS per_episode
        GROUP BY period, member),
    grouped AS (
        SELECT
            period, member,
            MIN(podcast_id) AS podcast_id,
            SUM(plays)::bigint AS plays,
            COUNT(DISTINCT CASE WHEN listened > 0 THEN user_id END) AS listeners,
            COUNT(DISTINCT CASE WHEN engaged THEN user_id END) AS engaged_listeners,
            SUM(listened)::bigint AS time_listened
        FROM described
        GROUP BY period, member)
SELECT
    to_char(DATE '1970-01-01' + g.period::integer, 'YYYY-MM-DD')    AS day,
    to_char(DATE '1970-01-01' + w.lo::integer, 'YYYY-MM-DD')        AS window_start,
    to_char(DATE '1970-01-01' + w.hi::integer, 'YYYY-MM-DD')        AS window_end,
    g.podcast_id COLLATE "C"                                      AS podcast_id,
    g.member COLLATE "C"                                          AS episode_id,
    COALESCE(ep.title, '')                                        AS title,
    CASE WHEN g.listeners >= $5::bigint THEN g.plays END          AS plays,
    CASE WHEN g.listeners >= $5::bigint THEN g.listeners END      AS listeners,
    CASE WHEN g.listeners >= $5::bigint THEN g.engaged_listeners END AS engaged_listeners,
    CASE WHEN g.listeners >= $5::bigint THEN q.triples END        AS qualified_plays,
    CASE WHEN g.listeners >= $5::bigint THEN g.time_listened END  AS time_listened_seconds,
    CASE WHEN g.listeners >= $5::bigint AND c.seconds > 0
         THEN g.time_listened::double precision / c.seconds END  AS avg_consumption
FROM grouped AS g
CROSS JOIN window_days AS w
JOIN qualified AS q ON q.period IS NOT DISTINCT FROM g.period AND q.member = g.member
LEFT JOIN capacity AS c ON c.period IS NOT DISTINCT FROM g.period AND c.member = g.member
LEFT JOIN silver_episode AS ep ON $4::bigint = 0 AND ep.episode_id = g.member
ORDER BY g.period, g.podcast_id COLLATE "C", g.member COLLATE "C"
