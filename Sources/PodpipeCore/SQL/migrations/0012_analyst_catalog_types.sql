-- Migration 0012: what analysts' tools see — a catalog of every table and view, declared
-- types on every view column, and one rule for unknown episodes.
-- Shipped migrations are never edited: change the schema with a new numbered file.
--
-- 1. podpipe_catalog: the descriptions of doc/data-model.md (grain, columns, definitions)
--    inside the database, for tools that cannot read the repository. Its rows come from the
--    resource SQL/catalog/podpipe_catalog.sql, generated from the doc
--    (scripts/update-catalog.sh) and loaded by the writer at every open (Catalog.swift), so
--    a newer podpipe brings its newer descriptions to an existing database.
-- 2. Declared types: SQLite gives a view column a declared type only when it is a plain
--    column reference; an expression (date(), COALESCE, a comparison, a division) has none,
--    and BI tools, pandas and Datasette then cannot tell dates, flags and rates from text.
--    Every such column is wrapped in CAST to the type its expression already yields
--    (TEXT for dates, INTEGER for counts and flags, REAL for rates), so every value is
--    unchanged. Plain column references are left bare: a CAST would hide the underlying
--    index from joins (dim_users.user_id, dim_episodes.episode_id, the fact's ids).
-- 3. Unknown episodes (seen in events, absent from the reference data): one rule for every
--    gold object. The episode keeps its episode_id and gets episode_known = 0; the text
--    attributes it would take from the reference data are empty strings ('' title, as
--    SPEC §5.1 asks, and '' podcast_id), its numbers NULL (duration_seconds, rates over its
--    length). Until now podcast_id was NULL beside an empty title.

--------------------------------------------------------------------------------- catalog
-- Grain: one table or view (column_name = '') or one column of one (column_name = its name).
CREATE TABLE podpipe_catalog (
    object_name TEXT    NOT NULL,                 -- table or view
    column_name TEXT    NOT NULL DEFAULT '',      -- '' for the object's own row
    kind        TEXT    NOT NULL CHECK (kind IN ('table', 'view', 'column')),
    layer       TEXT    NOT NULL,                 -- star, answer, ledger, bronze, silver, state, internal
    position    INTEGER NOT NULL,                 -- order in doc/data-model.md
    type        TEXT    NOT NULL DEFAULT '',      -- a column's declared type
    description TEXT    NOT NULL,
    PRIMARY KEY (object_name, column_name)
) WITHOUT ROWID;

------------------------------------------------------------------------------ star schema
DROP VIEW fact_user_interactions;
CREATE VIEW fact_user_interactions AS
SELECT
    e.event_id                                                        AS interaction_id,
    CAST(strftime('%Y-%m-%dT%H:%M:%SZ', e.ts, 'unixepoch') AS TEXT)   AS event_timestamp,
    CAST(date(e.ts, 'unixepoch') AS TEXT)                             AS event_date,
    e.ts                                                              AS event_unix_seconds,
    e.event_type                                                      AS event_type,
    e.user_id                                                         AS user_id,
    e.episode_id                                                      AS episode_id,
    e.duration                                                        AS listened_seconds,
    CAST(u.user_id IS NOT NULL AS INTEGER)                            AS user_known,
    CAST(ep.episode_id IS NOT NULL AS INTEGER)                        AS episode_known,
    CAST(CASE
        WHEN e.event_type = 'complete' AND ep.duration_seconds > 0
        THEN CAST(e.duration AS REAL) / ep.duration_seconds
    END AS REAL)                                                      AS listen_through_rate,
    e.file_id                                                         AS source_file_id,
    e.line_no                                                         AS source_line_no
FROM silver_event AS e
LEFT JOIN silver_user AS u ON u.user_id = e.user_id
LEFT JOIN silver_episode AS ep ON ep.episode_id = e.episode_id;

DROP VIEW dim_users;
CREATE VIEW dim_users AS
SELECT
    user_id,
    signup_date,
    CAST(substr(signup_date, 1, 7) AS TEXT) AS signup_month,
    country
FROM silver_user;

DROP VIEW dim_episodes;
CREATE VIEW dim_episodes AS
SELECT
    episode_id,
    podcast_id,
    title,
    release_date,
    duration_seconds,
    CAST(CASE
        WHEN duration_seconds < 900 THEN '00-15 min'
        WHEN duration_seconds < 1800 THEN '15-30 min'
        WHEN duration_seconds < 2700 THEN '30-45 min'
        WHEN duration_seconds < 3600 THEN '45-60 min'
        WHEN duration_seconds < 5400 THEN '60-90 min'
        ELSE '90+ min'
    END AS TEXT) AS length_bucket
FROM silver_episode;

---------------------------------------------------------------------------------- answers
DROP VIEW gold_daily_activity;
CREATE VIEW gold_daily_activity AS
SELECT
    CAST(date(day * 86400, 'unixepoch') AS TEXT) AS day,
    events,
    plays,
    pauses,
    seeks,
    completions,
    active_users,
    listening_users,
    multi_episode_users
FROM gold_agg_day;

DROP VIEW gold_episode_performance;
CREATE VIEW gold_episode_performance AS
SELECT
    x.episode_id,
    CAST(COALESCE(e.title, '') AS TEXT)                     AS title,
    CAST(COALESCE(e.podcast_id, '') AS TEXT)                AS podcast_id,
    CAST(e.episode_id IS NOT NULL AS INTEGER)               AS episode_known,
    e.duration_seconds,
    CAST(COALESCE(a.plays, 0) AS INTEGER)                   AS plays,
    CAST(COALESCE(a.pauses, 0) AS INTEGER)                  AS pauses,
    CAST(COALESCE(a.seeks, 0) AS INTEGER)                   AS seeks,
    CAST(COALESCE(a.completions, 0) AS INTEGER)             AS completions,
    CAST(CASE WHEN a.plays > 0 THEN CAST(a.completions AS REAL) / a.plays END AS REAL)
                                                            AS completion_rate,
    CAST(COALESCE(a.listeners, 0) AS INTEGER)               AS unique_listeners,
    CAST(CASE
        WHEN a.completions > 0 AND e.duration_seconds > 0
        THEN CAST(a.complete_duration_sum AS REAL) / e.duration_seconds / a.completions
    END AS REAL)                                            AS avg_listen_through_rate,
    CAST(date(a.first_day * 86400, 'unixepoch') AS TEXT)    AS first_event_day,
    CAST(date(a.last_day * 86400, 'unixepoch') AS TEXT)     AS last_event_day
FROM (
    SELECT episode_id FROM silver_episode
    UNION
    SELECT episode_id FROM gold_agg_episode
) AS x
LEFT JOIN gold_agg_episode AS a ON a.episode_id = x.episode_id
LEFT JOIN silver_episode AS e ON e.episode_id = x.episode_id;

DROP VIEW gold_engagement_by_length;
CREATE VIEW gold_engagement_by_length AS
SELECT
    CAST(b.length_bucket AS TEXT)                                  AS length_bucket,
    CAST(COUNT(*) AS INTEGER)                                      AS episodes,
    CAST(COALESCE(SUM(a.plays), 0) AS INTEGER)                     AS plays,
    CAST(COALESCE(SUM(a.completions), 0) AS INTEGER)               AS completions,
    CAST(CASE WHEN SUM(a.plays) > 0
         THEN CAST(SUM(a.completions) AS REAL) / SUM(a.plays) END AS REAL) AS completion_rate,
    CAST(CAST(COALESCE(SUM(a.plays), 0) AS REAL) / COUNT(*) AS REAL) AS avg_plays_per_episode,
    CAST(CASE WHEN SUM(a.completions) > 0 AND b.length_bucket <> 'unknown'
         THEN SUM(CAST(a.complete_duration_sum AS REAL) / b.duration_seconds)
              / SUM(a.completions) END AS REAL)                    AS avg_listen_through_rate
FROM (
    SELECT episode_id, length_bucket, duration_seconds FROM dim_episodes
    UNION ALL
    SELECT a.episode_id, 'unknown', NULL
    FROM gold_agg_episode AS a
    WHERE NOT EXISTS (SELECT 1 FROM silver_episode AS e WHERE e.episode_id = a.episode_id)
) AS b
LEFT JOIN gold_agg_episode AS a ON a.episode_id = b.episode_id
GROUP BY b.length_bucket;

DROP VIEW gold_cohort_retention;
CREATE VIEW gold_cohort_retention AS
SELECT
    p.cohort_month,
    s.users                                                 AS cohort_users,
    p.period,
    p.period_number,
    p.active_users,
    CAST(CAST(p.active_users AS REAL) / s.users AS REAL)    AS retention_rate
FROM gold_agg_cohort_period AS p
JOIN gold_agg_cohort_size AS s ON s.cohort_month = p.cohort_month;

DROP VIEW gold_unknown_episodes;
CREATE VIEW gold_unknown_episodes AS
SELECT
    a.episode_id,
    CAST(a.plays + a.pauses + a.seeks + a.completions AS INTEGER) AS events,
    a.completions,
    CAST(date(a.first_day * 86400, 'unixepoch') AS TEXT)          AS first_event_day,
    CAST(date(a.last_day * 86400, 'unixepoch') AS TEXT)           AS last_event_day
FROM gold_agg_episode AS a
WHERE NOT EXISTS (SELECT 1 FROM silver_episode AS e WHERE e.episode_id = a.episode_id);

-- The materialized answer follows the same rule (its model, SQL/gold/gold_top_episodes_7d.sql,
-- now writes '' too); the rows of the last refresh are brought in line here.
UPDATE gold_top_episodes_7d SET podcast_id = '' WHERE podcast_id IS NULL;
