-- refresh_20_events — fold one range of new silver events into the aggregates.
-- The range: silver_event.event_id in (from, to], already grouped into temp tables, and its
-- keys probed against gold, by GoldBatch.swift / GoldBatchTables.swift (see below; no
-- parameters here). The refresher calls it for (watermark, max event_id], in chunks, after
-- refresh_10_reference when reference data changed. (A full rebuild uses refresh_05_full and GoldFullRebuild.)
--
-- Cost follows the new events, not the history: the range is a primary-key range scan of
-- silver_event (or the rows the loads just inserted, GoldPrefetch.swift), and every aggregate
-- is touched by primary-key point lookups/upserts for the keys present in the batch only
-- (temp tables drive every join: CROSS JOIN fixes the order, the planner has no statistics
-- on them). Silver is append-only between rebuilds, so every counter only grows, and a
-- "distinct" counter is incremented exactly when its key is seen for the first time: first
-- the batch's keys are probed against the state BEFORE the batch (gold_tmp_* tables), then
-- the aggregates are updated. Events may fall on any day of history: nothing here assumes
-- new events are recent.
--
-- Reference-dependent contributions (listen-through by country, cohorts) use the snapshots
-- gold_ref_user / gold_ref_episode, which refresh_10_reference has just aligned with silver.
--
-- Arithmetic (Gold/GoldArithmetic.swift): no step may raise "integer overflow".
--   * Counts (events, plays, pauses, seeks, completions, listeners, active and multi-episode
--     users, qualifying days, cohort members) use SQLite's + and SUM: each counts distinct
--     silver rows, and silver_event.event_id (a rowid) holds fewer than 2^63 of them.
--   * A pair's complete_duration_sum is a sum of durations of at most 366 days (31,622,400 s,
--     GoldArithmetic.duration) over complete events that differ in ts alone (the natural key),
--     and ts lies in 2000-01-01 .. 9999-12-31 (the rules; gold skips later events): at most
--     2.53e11 × 3.17e7 ≈ 7.98e18 < 2^63. It still goes through podpipe_add: gold written
--     before durations were bounded may hold larger sums, and + would turn them into REAL.
--   * An episode's duration sum (every pair's) and a country's rate sum (every pair's rate,
--     each up to GoldArithmetic.rateCapE9 = 1e15: 9,224 pairs reach 2^63) have no bound
--     below 2^63: podpipe_add / podpipe_sum, which saturate. A rate is S × 1e9 / D with S up
--     to 2^63: podpipe_rate_e9 (128 bits).

--------------------------------------------------------- probes against the state before
-- Written by GoldBatch.swift in key order, from Swift hash tables (SQLite sorts for every
-- GROUP BY), each key probed once against gold before the batch:
-- temp.gold_tmp_triple: the batch's (user, day, episode) keys with their event counts and
-- sums (events, plays, pauses, seeks, completions, complete_duration_sum, listened) and
-- old_listened, the key's listened before the batch (NULL when the key is new); every
-- other per-batch sum below is taken from these (fewer rows: sessions put several events on
-- one key).
-- temp.gold_tmp_pair: the batch's (user, episode) listen pairs (a play or a complete), their
-- sums and old_duration_sum (the pair's sum before; NULL: a new pair).
-- temp.gold_tmp_user_day: the batch's (user, day) pairs: is_new (no gold_agg_day_user_episode
-- row of the user that day before), before_count (the episodes the user had listened that
-- day before) and added (those the batch makes listened: listened = 1 and old_listened NULL
-- or 0).
-- The batch's sums per day (temp.gold_tmp_batch_day: events and counts by type), per
-- (day, episode) with completions (gold_tmp_batch_episode_day) and per episode
-- (gold_tmp_batch_episode: counts by type, complete_duration_sum, first_day and last_day),
-- all sums of the triples.

-- Month bounds and index of the batch's days (computed once per day, not per row).
DROP TABLE IF EXISTS temp.gold_tmp_days;
CREATE TEMP TABLE gold_tmp_days (
    day         INTEGER PRIMARY KEY,
    month_index INTEGER NOT NULL,   -- year * 12 + month - 1
    month_first INTEGER NOT NULL,   -- first day of the month
    month_last  INTEGER NOT NULL    -- last day of the month
);
INSERT INTO gold_tmp_days (day, month_index, month_first, month_last)
SELECT day,
       CAST(strftime('%Y', day * 86400, 'unixepoch') AS INTEGER) * 12
           + CAST(strftime('%m', day * 86400, 'unixepoch') AS INTEGER) - 1,
       CAST(strftime('%s', day * 86400, 'unixepoch', 'start of month') AS INTEGER) / 86400,
       CAST(strftime('%s', day * 86400, 'unixepoch', 'start of month', '+1 month') AS INTEGER)
           / 86400 - 1
FROM temp.gold_tmp_batch_day;

-- Cohorts: the batch's new active days of known users, on or after their signup date, with
-- their week and month after signup, and whether the user was already active in that
-- week / month before the batch (range probes of gold_agg_user_day, in user order).
DROP TABLE IF EXISTS temp.gold_tmp_known_day;
CREATE TEMP TABLE gold_tmp_known_day AS
SELECT k.*,
       NOT EXISTS (
           SELECT 1 FROM gold_agg_user_day AS t
           WHERE t.user_id = k.user_id
             AND t.day BETWEEN k.signup_day + k.week_number * 7
                           AND k.signup_day + k.week_number * 7 + 6) AS new_week,
       NOT EXISTS (
           SELECT 1 FROM gold_agg_user_day AS t
           WHERE t.user_id = k.user_id AND t.day BETWEEN k.month_lo AND k.month_hi) AS new_month
FROM (
    SELECT d.user_id, d.day, u.cohort_month, u.signup_day,
           (d.day - u.signup_day) / 7 AS week_number,
           m.month_index - u.signup_month_index AS month_number,
           MAX(u.signup_day, m.month_first) AS month_lo, m.month_last AS month_hi
    FROM temp.gold_tmp_user_day AS d
    CROSS JOIN temp.gold_tmp_days AS m ON m.day = d.day
    CROSS JOIN gold_ref_user AS u ON u.user_id = d.user_id
    WHERE d.is_new AND d.day >= u.signup_day
    ORDER BY d.user_id, d.day
) AS k;

-- (user, week/month N after signup) newly reached (several new days may share a period).
DROP TABLE IF EXISTS temp.gold_tmp_period;
CREATE TEMP TABLE gold_tmp_period AS
SELECT DISTINCT cohort_month, 'week' AS period, week_number AS period_number, user_id
FROM temp.gold_tmp_known_day
WHERE new_week
UNION
SELECT DISTINCT cohort_month, 'month', month_number, user_id
FROM temp.gold_tmp_known_day
WHERE new_month;

------------------------------------------------------------- (day, user, episode), (user, day)
INSERT INTO gold_agg_day_user_episode (day, user_id, episode_id, listened)
SELECT day, user_id, episode_id, listened
FROM temp.gold_tmp_triple
WHERE old_listened IS NULL OR listened > old_listened
ON CONFLICT (day, user_id, episode_id) DO UPDATE SET listened = excluded.listened;

INSERT INTO gold_agg_user_day (user_id, day)
SELECT user_id, day FROM temp.gold_tmp_user_day WHERE is_new ORDER BY user_id, day;

------------------------------------------------------------------------- per day
INSERT INTO gold_agg_day (day, events, plays, pauses, seeks, completions)
SELECT day, events, plays, pauses, seeks, completions
FROM temp.gold_tmp_batch_day
WHERE true
ON CONFLICT (day) DO UPDATE SET
    events      = events + excluded.events,
    plays       = plays + excluded.plays,
    pauses      = pauses + excluded.pauses,
    seeks       = seeks + excluded.seeks,
    completions = completions + excluded.completions;

-- Distinct-user counters: a new active day, a first listen that day, crossing 3 episodes.
INSERT INTO gold_agg_day (day, active_users, listening_users, multi_episode_users)
SELECT day, SUM(is_new), SUM(before_count = 0 AND added > 0),
       SUM(before_count < 3 AND before_count + added >= 3)
FROM temp.gold_tmp_user_day
WHERE true
GROUP BY day
ON CONFLICT (day) DO UPDATE SET
    active_users        = active_users + excluded.active_users,
    listening_users     = listening_users + excluded.listening_users,
    multi_episode_users = multi_episode_users + excluded.multi_episode_users;

------------------------------------------------------------------ multi-episode users
-- Users qualifying on a day for the first time; count the ones never seen qualifying.
DROP TABLE IF EXISTS temp.gold_tmp_multi;
CREATE TEMP TABLE gold_tmp_multi AS
SELECT q.user_id, q.days, q.first_day,
       NOT EXISTS (
           SELECT 1 FROM gold_agg_multi_episode_user AS m WHERE m.user_id = q.user_id) AS is_new
FROM (
    SELECT user_id, COUNT(*) AS days, MIN(day) AS first_day
    FROM temp.gold_tmp_user_day
    WHERE before_count < 3 AND before_count + added >= 3
    GROUP BY user_id
) AS q;

UPDATE gold_multi_episode_users
SET users = users + (SELECT COUNT(*) FROM temp.gold_tmp_multi WHERE is_new);

INSERT INTO gold_agg_multi_episode_user (user_id, qualifying_days, first_day)
SELECT user_id, days, first_day
FROM temp.gold_tmp_multi
WHERE true
ON CONFLICT (user_id) DO UPDATE SET
    qualifying_days = qualifying_days + excluded.qualifying_days,
    first_day       = MIN(first_day, excluded.first_day);

----------------------------------------------------------------------- per episode
INSERT INTO gold_agg_episode_day (day, episode_id, completions)
SELECT day, episode_id, completions
FROM temp.gold_tmp_batch_episode_day
WHERE true
ON CONFLICT (day, episode_id) DO UPDATE SET completions = completions + excluded.completions;

INSERT INTO gold_agg_episode
    (episode_id, plays, pauses, seeks, completions, complete_duration_sum, first_day, last_day)
SELECT episode_id, plays, pauses, seeks, completions, complete_duration_sum, first_day, last_day
FROM temp.gold_tmp_batch_episode
WHERE true
ON CONFLICT (episode_id) DO UPDATE SET
    plays                 = plays + excluded.plays,
    pauses                = pauses + excluded.pauses,
    seeks                 = seeks + excluded.seeks,
    completions           = completions + excluded.completions,
    complete_duration_sum = podpipe_add(complete_duration_sum, excluded.complete_duration_sum),
    first_day             = MIN(first_day, excluded.first_day),
    last_day              = MAX(last_day, excluded.last_day);

INSERT INTO gold_agg_episode (episode_id, listeners)
SELECT episode_id, COUNT(*)
FROM temp.gold_tmp_pair
WHERE old_duration_sum IS NULL
GROUP BY episode_id
ON CONFLICT (episode_id) DO UPDATE SET listeners = listeners + excluded.listeners;

-------------------------------------------------- (user, episode): listen-through by country
-- A pair's contribution is round(1e9 * S / D) of its total S: add new minus old.
INSERT INTO gold_agg_country_listen_through (country, rate_sum_e9, completions)
SELECT u.country,
       podpipe_sum(
           podpipe_rate_e9(podpipe_add(n.old_duration_sum, n.complete_duration_sum), e.duration_seconds)
           - podpipe_rate_e9(n.old_duration_sum, e.duration_seconds)),
       SUM(n.completions)
FROM (
    SELECT user_id, episode_id, completions, complete_duration_sum,
           COALESCE(old_duration_sum, 0) AS old_duration_sum
    FROM temp.gold_tmp_pair
    WHERE completions > 0
) AS n
CROSS JOIN gold_ref_user AS u ON u.user_id = n.user_id
CROSS JOIN gold_ref_episode AS e ON e.episode_id = n.episode_id AND e.duration_seconds > 0
GROUP BY u.country
ON CONFLICT (country) DO UPDATE SET
    rate_sum_e9 = podpipe_add(rate_sum_e9, excluded.rate_sum_e9),
    completions = completions + excluded.completions;

INSERT INTO gold_agg_user_episode (user_id, episode_id, plays, completions, complete_duration_sum)
SELECT user_id, episode_id, plays, completions, complete_duration_sum
FROM temp.gold_tmp_pair
WHERE true
ON CONFLICT (user_id, episode_id) DO UPDATE SET
    plays                 = plays + excluded.plays,
    completions           = completions + excluded.completions,
    complete_duration_sum = podpipe_add(complete_duration_sum, excluded.complete_duration_sum);

------------------------------------------------------------------------------ cohorts
INSERT INTO gold_agg_cohort_period (cohort_month, period, period_number, active_users)
SELECT cohort_month, period, period_number, COUNT(*)
FROM temp.gold_tmp_period
WHERE true
GROUP BY cohort_month, period, period_number
ON CONFLICT (cohort_month, period, period_number) DO UPDATE SET
    active_users = active_users + excluded.active_users;

DROP TABLE temp.gold_tmp_triple;
DROP TABLE temp.gold_tmp_user_day;
DROP TABLE temp.gold_tmp_period;
DROP TABLE temp.gold_tmp_days;
DROP TABLE temp.gold_tmp_known_day;
DROP TABLE temp.gold_tmp_pair;
DROP TABLE temp.gold_tmp_multi;
DROP TABLE temp.gold_tmp_batch_day;
DROP TABLE temp.gold_tmp_batch_episode_day;
DROP TABLE temp.gold_tmp_batch_episode;
