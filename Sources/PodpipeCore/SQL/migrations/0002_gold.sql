-- Migration 0002: gold (SPEC §5): the star schema, the incremental aggregates, the answers.
-- Shipped migrations are never edited: change the schema with a new numbered file.
--
-- Layers inside gold
--   1. Star schema: fact_user_interactions, dim_users, dim_episodes (views over silver) and
--      dim_date (a table).
--   2. Aggregates gold_agg_*: additive tables keyed small, maintained by the refresher
--      (GoldRefresher, SQL/gold/refresh_*.sql) from the silver events it has not seen yet
--      (event_id > watermark), or rebuilt from all of silver in one scan
--      (Gold/GoldFullRebuild.swift, after refresh_05_full.sql rebuilds the snapshots).
--      Internal to the refresh; analysts use the answers below.
--   3. Snapshots gold_ref_*: the reference data (users, episodes) the aggregates were last
--      reconciled with, and gold_reference_change, a change log filled by triggers on
--      silver_user / silver_episode, so that a reference change (a user's country, an
--      episode's duration) moves only the contributions of the changed members.
--   4. Answers, named plainly: gold_top_episodes_7d, gold_listen_through_by_country,
--      gold_multi_episode_users, gold_multi_episode_users_by_day (tables rebuilt from the
--      aggregates at each refresh) and gold_daily_activity, gold_episode_performance,
--      gold_engagement_by_length, gold_cohort_retention, gold_unknown_episodes (views over
--      the aggregates).
--
-- Days: aggregates key days as integers, days since 1970-01-01 UTC (silver ts / 86400);
-- answers show them as 'YYYY-MM-DD' (UTC). dim_date maps one to the other.
--
-- Refresh state lives in pipeline_state under keys starting with 'gold.' (see
-- GoldRefresher): gold.watermark_event_id (the largest silver event_id folded in),
-- gold.seen_generation / gold.seen_reference_version (silver.generation and
-- silver.reference_version at the last refresh), gold.refreshed_at (ISO 8601 UTC), and
-- gold.last_mode / gold.last_new_events / gold.last_duration_ms. Readers never see a half
-- refresh: it runs in the writer's transaction.
--
-- This migration also adds triggers on silver_user and silver_episode (section 3) that log
-- changed ids into gold_reference_change, in the writer's transaction.

--------------------------------------------------------------------------------------------
-- 1. Star schema
--------------------------------------------------------------------------------------------

-- fact_user_interactions — grain: one silver event (one distinct
-- (user_id, episode_id, event_type, UTC second)).
-- A view, not a copy: silver_event is already typed, de-duplicated and one row per event, so a
-- copied fact would double the storage, add a write per event to every refresh, and go stale
-- whenever reference data changes. As a view it is always consistent with silver, costs
-- nothing at refresh, and events whose user or episode is not (yet) in the reference data stay
-- in it with user_known / episode_known = 0 and resolve by themselves when the reference rows
-- arrive.
--   interaction_id       stable id = silver_event.event_id
--   event_timestamp      ISO 8601 UTC text, e.g. 2024-04-21T09:13:28Z
--   event_date           UTC calendar date 'YYYY-MM-DD' (joins dim_date.date_key)
--   listened_seconds     the event's duration (play / complete only)
--   listen_through_rate  complete events whose episode is known (with positive duration):
--                        listened_seconds / duration_seconds (may exceed 1); NULL otherwise
CREATE VIEW fact_user_interactions AS
SELECT
    e.event_id                                          AS interaction_id,
    strftime('%Y-%m-%dT%H:%M:%SZ', e.ts, 'unixepoch')   AS event_timestamp,
    date(e.ts, 'unixepoch')                             AS event_date,
    e.ts                                                AS event_unix_seconds,
    e.event_type                                        AS event_type,
    e.user_id                                           AS user_id,
    e.episode_id                                        AS episode_id,
    e.duration                                          AS listened_seconds,
    (u.user_id IS NOT NULL)                             AS user_known,
    (ep.episode_id IS NOT NULL)                         AS episode_known,
    CASE
        WHEN e.event_type = 'complete' AND ep.duration_seconds > 0
        THEN CAST(e.duration AS REAL) / ep.duration_seconds
    END                                                 AS listen_through_rate,
    e.file_id                                           AS source_file_id,
    e.line_no                                           AS source_line_no
FROM silver_event AS e
LEFT JOIN silver_user AS u ON u.user_id = e.user_id
LEFT JOIN silver_episode AS ep ON ep.episode_id = e.episode_id;

-- dim_users — grain: one user of the reference data (latest users file wins per user_id).
-- A view over silver_user: reference updates show at once, nothing to refresh.
CREATE VIEW dim_users AS
SELECT
    user_id,
    signup_date,                                 -- 'YYYY-MM-DD'
    substr(signup_date, 1, 7) AS signup_month,   -- 'YYYY-MM': the cohort
    country
FROM silver_user;

-- dim_episodes — grain: one episode of the reference data (latest episodes file wins).
-- A view over silver_episode. length_bucket: the episode's length class used by
-- gold_engagement_by_length ('00-15 min', '15-30 min', '30-45 min', '45-60 min',
-- '60-90 min', '90+ min'; lower bound inclusive).
CREATE VIEW dim_episodes AS
SELECT
    episode_id,
    podcast_id,
    title,
    release_date,
    duration_seconds,
    CASE
        WHEN duration_seconds < 900 THEN '00-15 min'
        WHEN duration_seconds < 1800 THEN '15-30 min'
        WHEN duration_seconds < 2700 THEN '30-45 min'
        WHEN duration_seconds < 3600 THEN '45-60 min'
        WHEN duration_seconds < 5400 THEN '60-90 min'
        ELSE '90+ min'
    END AS length_bucket
FROM silver_episode;

-- dim_date — grain: one UTC calendar day, every day from the first to the last event day
-- (no gaps). A table (not a view) because it is generated, not derived row by row from
-- silver, and BI tools expect a physical date dimension. Extended by each refresh.
CREATE TABLE dim_date (
    date_key     TEXT    PRIMARY KEY,         -- 'YYYY-MM-DD'
    day_number   INTEGER NOT NULL UNIQUE,     -- days since 1970-01-01 (aggregates' day key)
    year         INTEGER NOT NULL,
    quarter      INTEGER NOT NULL,            -- 1..4
    month        INTEGER NOT NULL,            -- 1..12
    month_key    TEXT    NOT NULL,            -- 'YYYY-MM'
    day_of_month INTEGER NOT NULL,
    day_of_week  INTEGER NOT NULL,            -- ISO: 1 = Monday .. 7 = Sunday
    day_name     TEXT    NOT NULL,            -- 'Monday' ..
    is_weekend   INTEGER NOT NULL,            -- 1 on Saturday and Sunday
    iso_year     INTEGER NOT NULL,
    iso_week     INTEGER NOT NULL,            -- 1..53
    week_start   TEXT    NOT NULL             -- the Monday of the ISO week, 'YYYY-MM-DD'
) WITHOUT ROWID;

--------------------------------------------------------------------------------------------
-- 2. Aggregates (internal; SQL/gold/refresh_20_events.sql, Gold/GoldFullRebuild.swift)
--------------------------------------------------------------------------------------------

-- Grain: one UTC day with events. Event counts by type, and distinct-user counters that the
-- refresher increments only when a (user, day) pair is seen for the first time:
-- active_users (any event), listening_users (a play or complete), multi_episode_users
-- (listened to 3+ distinct episodes that day).
CREATE TABLE gold_agg_day (
    day                 INTEGER PRIMARY KEY,
    events              INTEGER NOT NULL DEFAULT 0,
    plays               INTEGER NOT NULL DEFAULT 0,
    pauses              INTEGER NOT NULL DEFAULT 0,
    seeks               INTEGER NOT NULL DEFAULT 0,
    completions         INTEGER NOT NULL DEFAULT 0,
    active_users        INTEGER NOT NULL DEFAULT 0,
    listening_users     INTEGER NOT NULL DEFAULT 0,
    multi_episode_users INTEGER NOT NULL DEFAULT 0
);

-- Grain: (day, episode_id) with at least one complete event. Feeds the 7-day top episodes
-- for any window end.
CREATE TABLE gold_agg_episode_day (
    day         INTEGER NOT NULL,
    episode_id  TEXT    NOT NULL,
    completions INTEGER NOT NULL,
    PRIMARY KEY (day, episode_id)
) WITHOUT ROWID;

-- Grain: one episode_id seen in events (known or not). listeners: distinct users with a
-- play or complete of the episode; complete_duration_sum: seconds over its complete events.
CREATE TABLE gold_agg_episode (
    episode_id            TEXT    PRIMARY KEY,
    plays                 INTEGER NOT NULL DEFAULT 0,
    pauses                INTEGER NOT NULL DEFAULT 0,
    seeks                 INTEGER NOT NULL DEFAULT 0,
    completions           INTEGER NOT NULL DEFAULT 0,
    complete_duration_sum INTEGER NOT NULL DEFAULT 0,
    listeners             INTEGER NOT NULL DEFAULT 0,
    first_day             INTEGER,
    last_day              INTEGER
) WITHOUT ROWID;

-- Grain: (day, user_id, episode_id) with any event; listened = 1 when one of them is a play
-- or complete. Keyed by day first: a file's events cluster on a few recent days, so a batch
-- touches few pages. Answers: is (user, day) a new active day? how many distinct episodes did
-- the user listen to that day?
CREATE TABLE gold_agg_day_user_episode (
    day        INTEGER NOT NULL,
    user_id    TEXT    NOT NULL,
    episode_id TEXT    NOT NULL,
    listened   INTEGER NOT NULL,
    PRIMARY KEY (day, user_id, episode_id)
) WITHOUT ROWID;

-- Grain: (user_id, day) with any event: each user's active days, keyed by user, for the
-- cohorts (was the user already active in week/month N after signup? recompute a user's
-- periods when their signup date changes).
CREATE TABLE gold_agg_user_day (
    user_id TEXT    NOT NULL,
    day     INTEGER NOT NULL,
    PRIMARY KEY (user_id, day)
) WITHOUT ROWID;

-- Grain: (user_id, episode_id) with a play or complete. Sums for the listen-through rate,
-- kept per pair so that reference changes move only the changed members' pairs.
CREATE TABLE gold_agg_user_episode (
    user_id               TEXT    NOT NULL,
    episode_id            TEXT    NOT NULL,
    plays                 INTEGER NOT NULL DEFAULT 0,
    completions           INTEGER NOT NULL DEFAULT 0,
    complete_duration_sum INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, episode_id)
) WITHOUT ROWID;
CREATE INDEX gold_agg_user_episode_completed
    ON gold_agg_user_episode (episode_id) WHERE completions > 0;

-- Grain: one user who listened to 3+ distinct episodes on at least one UTC day.
CREATE TABLE gold_agg_multi_episode_user (
    user_id         TEXT    PRIMARY KEY,
    qualifying_days INTEGER NOT NULL,
    first_day       INTEGER NOT NULL
) WITHOUT ROWID;

-- Grain: one country with completions counted for the listen-through rate.
-- rate_sum_e9 = Σ over (user, episode) pairs of round(1e9 × Σ complete seconds / episode
-- duration_seconds), in integers: a fixed-point sum that gives the same result whatever the
-- order and batching of the refreshes (floating-point sums would not).
CREATE TABLE gold_agg_country_listen_through (
    country     TEXT    PRIMARY KEY,
    rate_sum_e9 INTEGER NOT NULL,
    completions INTEGER NOT NULL
) WITHOUT ROWID;

-- Grain: (cohort_month, period, period_number): distinct users of the cohort (known, with
-- a signup date) active in week/month N after signup (week N: days since the signup date
-- div 7; month N: calendar months since the signup month; activity before the signup date is
-- not counted).
CREATE TABLE gold_agg_cohort_period (
    cohort_month  TEXT    NOT NULL,
    period        TEXT    NOT NULL,
    period_number INTEGER NOT NULL,
    active_users  INTEGER NOT NULL,
    PRIMARY KEY (cohort_month, period, period_number)
) WITHOUT ROWID;

-- Grain: one signup month: the number of reference users who signed up that month.
CREATE TABLE gold_agg_cohort_size (
    cohort_month TEXT    PRIMARY KEY,
    users        INTEGER NOT NULL
) WITHOUT ROWID;

--------------------------------------------------------------------------------------------
-- 3. Snapshots of the reference data the aggregates reflect
--------------------------------------------------------------------------------------------

CREATE TABLE gold_ref_user (
    user_id            TEXT    PRIMARY KEY,
    country            TEXT    NOT NULL,
    signup_date        TEXT    NOT NULL,
    signup_day         INTEGER NOT NULL,   -- days since 1970-01-01
    signup_month_index INTEGER NOT NULL,   -- year * 12 + month - 1
    cohort_month       TEXT    NOT NULL    -- 'YYYY-MM'
) WITHOUT ROWID;

CREATE TABLE gold_ref_episode (
    episode_id       TEXT    PRIMARY KEY,
    duration_seconds INTEGER NOT NULL
) WITHOUT ROWID;

-- Change log of the reference data: the user / episode ids whose gold-relevant values
-- (a user's country or signup date; an episode's duration) changed, appeared or disappeared
-- since the last refresh. Written by the triggers below, inside the ingest's (or replay's)
-- own transaction; read and emptied by refresh_10_reference, which therefore reconciles only
-- the changed members: the reference cost of a refresh follows the changed rows, not the
-- size of silver_user / silver_episode. Titles and podcast ids are not tracked: the answers
-- join them at the end.
CREATE TABLE gold_reference_change (
    kind TEXT NOT NULL CHECK (kind IN ('user', 'episode')),
    id   TEXT NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;

-- (The triggers insert with a NOT EXISTS guard rather than INSERT OR IGNORE: inside a
-- trigger, the conflict policy of the statement that fired it, e.g. the ingest's upsert,
-- would override OR IGNORE.)
CREATE TRIGGER gold_reference_change_user_insert AFTER INSERT ON silver_user
BEGIN
    INSERT INTO gold_reference_change (kind, id)
    SELECT 'user', new.user_id
    WHERE NOT EXISTS (
        SELECT 1 FROM gold_reference_change WHERE kind = 'user' AND id = new.user_id);
END;

CREATE TRIGGER gold_reference_change_user_update AFTER UPDATE ON silver_user
WHEN old.user_id IS NOT new.user_id
  OR old.country IS NOT new.country
  OR old.signup_date IS NOT new.signup_date
BEGIN
    INSERT INTO gold_reference_change (kind, id)
    SELECT 'user', new.user_id
    WHERE NOT EXISTS (
        SELECT 1 FROM gold_reference_change WHERE kind = 'user' AND id = new.user_id);
    INSERT INTO gold_reference_change (kind, id)
    SELECT 'user', old.user_id
    WHERE NOT EXISTS (
        SELECT 1 FROM gold_reference_change WHERE kind = 'user' AND id = old.user_id);
END;

CREATE TRIGGER gold_reference_change_user_delete AFTER DELETE ON silver_user
BEGIN
    INSERT INTO gold_reference_change (kind, id)
    SELECT 'user', old.user_id
    WHERE NOT EXISTS (
        SELECT 1 FROM gold_reference_change WHERE kind = 'user' AND id = old.user_id);
END;

CREATE TRIGGER gold_reference_change_episode_insert AFTER INSERT ON silver_episode
BEGIN
    INSERT INTO gold_reference_change (kind, id)
    SELECT 'episode', new.episode_id
    WHERE NOT EXISTS (
        SELECT 1 FROM gold_reference_change WHERE kind = 'episode' AND id = new.episode_id);
END;

CREATE TRIGGER gold_reference_change_episode_update AFTER UPDATE ON silver_episode
WHEN old.episode_id IS NOT new.episode_id
  OR old.duration_seconds IS NOT new.duration_seconds
BEGIN
    INSERT INTO gold_reference_change (kind, id)
    SELECT 'episode', new.episode_id
    WHERE NOT EXISTS (
        SELECT 1 FROM gold_reference_change WHERE kind = 'episode' AND id = new.episode_id);
    INSERT INTO gold_reference_change (kind, id)
    SELECT 'episode', old.episode_id
    WHERE NOT EXISTS (
        SELECT 1 FROM gold_reference_change WHERE kind = 'episode' AND id = old.episode_id);
END;

CREATE TRIGGER gold_reference_change_episode_delete AFTER DELETE ON silver_episode
BEGIN
    INSERT INTO gold_reference_change (kind, id)
    SELECT 'episode', old.episode_id
    WHERE NOT EXISTS (
        SELECT 1 FROM gold_reference_change WHERE kind = 'episode' AND id = old.episode_id);
END;

--------------------------------------------------------------------------------------------
-- 4. Answers
--------------------------------------------------------------------------------------------

-- gold_top_episodes_7d — grain: one ranked episode, at most 10 rows.
-- The 7 UTC calendar days ending on the date of the latest valid event (window_start ..
-- window_end, both included); episodes ranked by the number of complete events (silver is
-- de-duplicated) in the window, ties by episode_id ascending as text ('ep_10' before
-- 'ep_2'); rank 1..10 without gaps. Episodes not (yet) in the reference data count, with an
-- empty title, a NULL podcast_id and episode_known = 0. Model: SQL/gold/gold_top_episodes_7d.sql.
CREATE TABLE gold_top_episodes_7d (
    rank          INTEGER PRIMARY KEY,
    episode_id    TEXT    NOT NULL,
    title         TEXT    NOT NULL,
    podcast_id    TEXT,
    completions   INTEGER NOT NULL,
    episode_known INTEGER NOT NULL,
    window_start  TEXT    NOT NULL,
    window_end    TEXT    NOT NULL
);

-- gold_listen_through_by_country — grain: one country of a known user.
-- Over complete events with a known user and a known episode (duration_seconds > 0): the mean
-- of duration / duration_seconds, grouped by the user's current country; completions = the
-- number of such events. Follows reference updates (a user moving country moves their
-- completions). Model: SQL/gold/gold_listen_through_by_country.sql.
CREATE TABLE gold_listen_through_by_country (
    country                 TEXT    PRIMARY KEY,
    avg_listen_through_rate REAL    NOT NULL,
    completions             INTEGER NOT NULL
);

-- gold_multi_episode_users — grain: exactly one row.
-- users = the number of distinct users (known to the reference data or not) who, on at least
-- one UTC day, listened (a play or complete event) to 3 or more different episodes.
CREATE TABLE gold_multi_episode_users (
    users INTEGER NOT NULL
);
INSERT INTO gold_multi_episode_users (users) VALUES (0);

-- gold_multi_episode_users_by_day — grain: one UTC day with at least one such user.
-- users = distinct users who listened to 3+ different episodes that day.
-- Model: SQL/gold/gold_multi_episode_users_by_day.sql.
CREATE TABLE gold_multi_episode_users_by_day (
    day   TEXT    PRIMARY KEY,                -- 'YYYY-MM-DD'
    users INTEGER NOT NULL
);

-- gold_daily_activity — grain: one UTC day with events.
-- Events by type; active_users: distinct users with any event; listening_users: distinct
-- users with a play or complete; multi_episode_users: as gold_multi_episode_users_by_day.
CREATE VIEW gold_daily_activity AS
SELECT
    date(day * 86400, 'unixepoch') AS day,
    events,
    plays,
    pauses,
    seeks,
    completions,
    active_users,
    listening_users,
    multi_episode_users
FROM gold_agg_day;

-- gold_episode_performance — grain: one episode, from the reference data or seen in events.
-- plays / completions: play and complete events (all time); completion_rate = completions /
-- plays (NULL without plays); unique_listeners: distinct users with a play or complete;
-- avg_listen_through_rate: mean of duration / duration_seconds over its complete events (any
-- user; NULL when the episode is unknown or never completed). Unknown episodes:
-- episode_known = 0, empty title.
CREATE VIEW gold_episode_performance AS
SELECT
    x.episode_id,
    COALESCE(e.title, '')                   AS title,
    e.podcast_id,
    (e.episode_id IS NOT NULL)              AS episode_known,
    e.duration_seconds,
    COALESCE(a.plays, 0)                    AS plays,
    COALESCE(a.pauses, 0)                   AS pauses,
    COALESCE(a.seeks, 0)                    AS seeks,
    COALESCE(a.completions, 0)              AS completions,
    CASE WHEN a.plays > 0 THEN CAST(a.completions AS REAL) / a.plays END AS completion_rate,
    COALESCE(a.listeners, 0)                AS unique_listeners,
    CASE
        WHEN a.completions > 0 AND e.duration_seconds > 0
        THEN CAST(a.complete_duration_sum AS REAL) / e.duration_seconds / a.completions
    END                                     AS avg_listen_through_rate,
    date(a.first_day * 86400, 'unixepoch')  AS first_event_day,
    date(a.last_day * 86400, 'unixepoch')   AS last_event_day
FROM (
    SELECT episode_id FROM silver_episode
    UNION
    SELECT episode_id FROM gold_agg_episode
) AS x
LEFT JOIN gold_agg_episode AS a ON a.episode_id = x.episode_id
LEFT JOIN silver_episode AS e ON e.episode_id = x.episode_id;

-- gold_engagement_by_length — grain: one episode length bucket (dim_episodes.length_bucket),
-- plus 'unknown' for episodes seen in events but not in the reference data.
-- episodes: reference episodes in the bucket (for 'unknown': unknown episode ids seen);
-- plays, completions: events; completion_rate = completions / plays; avg_plays_per_episode;
-- avg_listen_through_rate: mean of duration / duration_seconds over the bucket's complete
-- events (NULL for 'unknown').
CREATE VIEW gold_engagement_by_length AS
SELECT
    b.length_bucket,
    COUNT(*)                                         AS episodes,
    COALESCE(SUM(a.plays), 0)                        AS plays,
    COALESCE(SUM(a.completions), 0)                  AS completions,
    CASE WHEN SUM(a.plays) > 0
         THEN CAST(SUM(a.completions) AS REAL) / SUM(a.plays) END AS completion_rate,
    CAST(COALESCE(SUM(a.plays), 0) AS REAL) / COUNT(*) AS avg_plays_per_episode,
    CASE WHEN SUM(a.completions) > 0 AND b.length_bucket <> 'unknown'
         THEN SUM(CAST(a.complete_duration_sum AS REAL) / b.duration_seconds)
              / SUM(a.completions) END               AS avg_listen_through_rate
FROM (
    SELECT episode_id, length_bucket, duration_seconds FROM dim_episodes
    UNION ALL
    SELECT a.episode_id, 'unknown', NULL
    FROM gold_agg_episode AS a
    WHERE NOT EXISTS (SELECT 1 FROM silver_episode AS e WHERE e.episode_id = a.episode_id)
) AS b
LEFT JOIN gold_agg_episode AS a ON a.episode_id = b.episode_id
GROUP BY b.length_bucket;

-- gold_cohort_retention — grain: (cohort_month, period, period_number) with active users.
-- Cohort: reference users by signup month ('YYYY-MM'); cohort_users: users of the cohort;
-- active_users: distinct cohort users with at least one event (any type) in week N (days since
-- the signup date div 7) or month N (calendar months since the signup month) after signup,
-- N >= 0 (events before the signup date are not counted); retention_rate = active / cohort.
CREATE VIEW gold_cohort_retention AS
SELECT
    p.cohort_month,
    s.users                                   AS cohort_users,
    p.period,
    p.period_number,
    p.active_users,
    CAST(p.active_users AS REAL) / s.users    AS retention_rate
FROM gold_agg_cohort_period AS p
JOIN gold_agg_cohort_size AS s ON s.cohort_month = p.cohort_month;

-- gold_unknown_episodes — grain: one episode_id seen in events but absent from the
-- reference data (the gap the fact's episode_known = 0 flags). Empties itself as episodes
-- files arrive.
CREATE VIEW gold_unknown_episodes AS
SELECT
    a.episode_id,
    a.plays + a.pauses + a.seeks + a.completions AS events,
    a.completions,
    date(a.first_day * 86400, 'unixepoch') AS first_event_day,
    date(a.last_day * 86400, 'unixepoch')  AS last_event_day
FROM gold_agg_episode AS a
WHERE NOT EXISTS (SELECT 1 FROM silver_episode AS e WHERE e.episode_id = a.episode_id);
