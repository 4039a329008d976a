-- gold_top_episodes_7d — top completed episodes over 7 UTC days (PostgreSQL; SQLite's is
-- SQL/gold/gold_top_episodes_7d.sql, the same definition).
-- Grain: one ranked episode, at most 10 rows, ordered by rank.
-- Definition (SPEC §5.1): the window is the 7 UTC calendar days ending on $1 (days since
-- 1970-01-01; NULL = the date of the latest valid event), both ends included. Episodes are
-- ranked by their number of complete events in the window, ties broken by episode_id
-- ascending in byte order (COLLATE "C": 'ep_10' before 'ep_2'); rank 1..10 without gaps.
-- Episodes not (yet) in the reference data count, with an empty title and podcast_id and
-- episode_known = 0.
-- Materialized into gold_top_episodes_7d ($1 = NULL) at every refresh; `podpipectl report
-- top-episodes --as-of DATE` runs it with that date.
WITH
    anchor (hi) AS (
        SELECT COALESCE($1::bigint, (SELECT MAX(day) FROM gold_agg_day))),
    window_days (lo, hi) AS (
        SELECT hi - 6, hi FROM anchor WHERE hi IS NOT NULL),
    counted (episode_id, completions) AS (
        SELECT a.episode_id, SUM(a.completions)::bigint
        FROM gold_agg_episode_day AS a, window_days AS w
        WHERE a.day BETWEEN w.lo AND w.hi
        GROUP BY a.episode_id
        HAVING SUM(a.completions) > 0),
    ranked (rank, episode_id, completions) AS (
        SELECT ROW_NUMBER() OVER (ORDER BY completions DESC, episode_id COLLATE "C" ASC),
               episode_id, completions
        FROM counted)
SELECT
    r.rank                                       AS rank,
    r.episode_id                                 AS episode_id,
    COALESCE(e.title, '')                        AS title,
    COALESCE(e.podcast_id, '')                   AS podcast_id,
    r.completions                                AS completions,
    (e.episode_id IS NOT NULL)::integer::bigint  AS episode_known,
    podpipe_day_text(w.lo)                       AS window_start,
    podpipe_day_text(w.hi)                       AS window_end
FROM ranked AS r
CROSS JOIN window_days AS w
LEFT JOIN silver_episode AS e ON e.episode_id = r.episode_id
WHERE r.rank <= 10
ORDER BY r.rank
