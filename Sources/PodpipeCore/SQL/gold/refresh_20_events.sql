-- refresh_20_events — fold one range of new silver events into the aggregates.
-- Parameters: :from_id (exclusive) and :to_id (inclusive), silver_event.event_id bounds.
-- The refresher calls it for (watermark, max event_id], in chunks; a full rebuild calls it
-- from 0 after refresh_00_reset.
--
-- Cost follows the new events, not the history: the range is a primary-key range scan of
-- silver_event, and every aggregate is touched by primary-key point lookups/upserts for the
-- keys present in the batch only (temp tables drive every join: CROSS JOIN fixes the order,
-- the planner has no statistics on them). Silver is append-only between rebuilds, so every
-- counter only grows, and a "distinct" counter is incremented exactly when its key is seen
-- for the first time: first the batch's keys are probed against the state BEFORE the batch
-- (gold_tmp_* tables), then the aggregates are updated. Events may fall on any day of
-- history: nothing here assumes new events are recent.
--
-- Reference-dependent contributions (listen-through by country, cohorts) use the snapshots
-- gold_ref_user / gold_ref_episode, which refresh_10_reference has just aligned with silver.

DROP TABLE IF EXISTS temp.gold_tmp_event;
CREATE TEMP TABLE gold_tmp_event AS
SELECT event_id, ts / 86400 AS day, user_id, episode_id, event_type, duration
FROM silver_event
WHERE event_id > :from_id AND event_id <= :to_id;

--------------------------------------------------------- probes against the state before
-- The batch's (user, day, episode) keys; old_listened: NULL when the key is new.
DROP TABLE IF EXISTS temp.gold_tmp_triple;
CREATE TEMP TABLE gold_tmp_triple AS
SELECT n.user_id, n.day, n.episode_id, n.listened,
       (SELECT t.listened FROM gold_agg_user_day_episode AS t
        WHERE t.user_id = n.user_id AND t.day = n.day AND t.episode_id = n.episode_id)
           AS old_listened
FROM (
    SELECT user_id, day, episode_id, MAX(event_type IN ('play', 'complete')) AS listened
    FROM temp.gold_tmp_event
    GROUP BY user_id, day, episode_id
) AS n;

-- The batch's (user, day) pairs: new active day? distinct episodes listened before, and
-- how many the batch adds.
DROP TABLE IF EXISTS temp.gold_tmp_user_day;
CREATE TEMP TABLE gold_tmp_user_day AS
SELECT x.user_id, x.day, x.added,
       NOT EXISTS (
           SELECT 1 FROM gold_agg_user_day_episode AS t
           WHERE t.user_id = x.user_id AND t.day = x.day) AS is_new,
       (SELECT COUNT(*) FROM gold_agg_user_day_episode AS t
        WHERE t.user_id = x.user_id AND t.day = x.day AND t.listened = 1) AS before_count
FROM (
    SELECT user_id, day, SUM(listened = 1 AND COALESCE(old_listened, 0) = 0) AS added
    FROM temp.gold_tmp_triple
    GROUP BY user_id, day
) AS x;

-- Cohorts: (user, week/month N after signup) reached by a new active day of a known user,
-- and not reached before (no earlier active day of the user inside that period).
DROP TABLE IF EXISTS temp.gold_tmp_period;
CREATE TEMP TABLE gold_tmp_period AS
SELECT DISTINCT x.cohort_month, x.period, x.period_number, x.user_id
FROM (
    SELECT d.user_id, u.cohort_month, 'week' AS period,
           (d.day - u.signup_day) / 7 AS period_number,
           u.signup_day + (d.day - u.signup_day) / 7 * 7 AS lo,
           u.signup_day + (d.day - u.signup_day) / 7 * 7 + 6 AS hi
    FROM temp.gold_tmp_user_day AS d
    CROSS JOIN gold_ref_user AS u ON u.user_id = d.user_id
    WHERE d.is_new AND d.day >= u.signup_day
    UNION ALL
    SELECT d.user_id, u.cohort_month, 'month',
           CAST(strftime('%Y', d.day * 86400, 'unixepoch') AS INTEGER) * 12
               + CAST(strftime('%m', d.day * 86400, 'unixepoch') AS INTEGER) - 1
               - u.signup_month_index,
           MAX(u.signup_day,
               CAST(strftime('%s', d.day * 86400, 'unixepoch', 'start of month') AS INTEGER) / 86400),
           CAST(strftime('%s', d.day * 86400, 'unixepoch', 'start of month', '+1 month') AS INTEGER)
               / 86400 - 1
    FROM temp.gold_tmp_user_day AS d
    CROSS JOIN gold_ref_user AS u ON u.user_id = d.user_id
    WHERE d.is_new AND d.day >= u.signup_day
) AS x
WHERE NOT EXISTS (
    SELECT 1 FROM gold_agg_user_day_episode AS t
    WHERE t.user_id = x.user_id AND t.day BETWEEN x.lo AND x.hi);

-- The batch's (user, episode) listen pairs and their sums before.
DROP TABLE IF EXISTS temp.gold_tmp_pair;
CREATE TEMP TABLE gold_tmp_pair AS
SELECT n.user_id, n.episode_id, n.plays, n.completions, n.complete_duration_sum,
       p.user_id IS NULL                    AS is_new,
       COALESCE(p.complete_duration_sum, 0) AS old_duration_sum
FROM (
    SELECT user_id, episode_id,
           SUM(event_type = 'play') AS plays,
           SUM(event_type = 'complete') AS completions,
           COALESCE(SUM(CASE WHEN event_type = 'complete' THEN duration END), 0)
               AS complete_duration_sum
    FROM temp.gold_tmp_event
    WHERE event_type IN ('play', 'complete')
    GROUP BY user_id, episode_id
) AS n
LEFT JOIN gold_agg_user_episode AS p
       ON p.user_id = n.user_id AND p.episode_id = n.episode_id;

------------------------------------------------------------------- (user, day, episode)
INSERT INTO gold_agg_user_day_episode (user_id, day, episode_id, listened)
SELECT user_id, day, episode_id, listened
FROM temp.gold_tmp_triple
WHERE old_listened IS NULL OR listened > old_listened
ON CONFLICT (user_id, day, episode_id) DO UPDATE SET listened = excluded.listened;

------------------------------------------------------------------------- per day
INSERT INTO gold_agg_day (day, events, plays, pauses, seeks, completions)
SELECT day, COUNT(*),
       SUM(event_type = 'play'), SUM(event_type = 'pause'),
       SUM(event_type = 'seek'), SUM(event_type = 'complete')
FROM temp.gold_tmp_event
WHERE true
GROUP BY day
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
SELECT day, episode_id, COUNT(*)
FROM temp.gold_tmp_event
WHERE event_type = 'complete'
GROUP BY day, episode_id
ON CONFLICT (day, episode_id) DO UPDATE SET completions = completions + excluded.completions;

INSERT INTO gold_agg_episode
    (episode_id, plays, pauses, seeks, completions, complete_duration_sum, first_day, last_day)
SELECT episode_id,
       SUM(event_type = 'play'), SUM(event_type = 'pause'),
       SUM(event_type = 'seek'), SUM(event_type = 'complete'),
       COALESCE(SUM(CASE WHEN event_type = 'complete' THEN duration END), 0),
       MIN(day), MAX(day)
FROM temp.gold_tmp_event
WHERE true
GROUP BY episode_id
ON CONFLICT (episode_id) DO UPDATE SET
    plays                 = plays + excluded.plays,
    pauses                = pauses + excluded.pauses,
    seeks                 = seeks + excluded.seeks,
    completions           = completions + excluded.completions,
    complete_duration_sum = complete_duration_sum + excluded.complete_duration_sum,
    first_day             = MIN(first_day, excluded.first_day),
    last_day              = MAX(last_day, excluded.last_day);

INSERT INTO gold_agg_episode (episode_id, listeners)
SELECT episode_id, COUNT(*)
FROM temp.gold_tmp_pair
WHERE is_new
GROUP BY episode_id
ON CONFLICT (episode_id) DO UPDATE SET listeners = listeners + excluded.listeners;

-------------------------------------------------- (user, episode): listen-through by country
-- A pair's contribution is round(1e9 * S / D) of its total S: add new minus old.
INSERT INTO gold_agg_country_listen_through (country, rate_sum_e9, completions)
SELECT u.country,
       SUM(  ((n.old_duration_sum + n.complete_duration_sum) / e.duration_seconds) * 1000000000
           + (((n.old_duration_sum + n.complete_duration_sum) % e.duration_seconds) * 1000000000
              + e.duration_seconds / 2) / e.duration_seconds
           - (n.old_duration_sum / e.duration_seconds) * 1000000000
           - ((n.old_duration_sum % e.duration_seconds) * 1000000000
              + e.duration_seconds / 2) / e.duration_seconds),
       SUM(n.completions)
FROM temp.gold_tmp_pair AS n
CROSS JOIN gold_ref_user AS u ON u.user_id = n.user_id
CROSS JOIN gold_ref_episode AS e ON e.episode_id = n.episode_id AND e.duration_seconds > 0
WHERE n.completions > 0
GROUP BY u.country
ON CONFLICT (country) DO UPDATE SET
    rate_sum_e9 = rate_sum_e9 + excluded.rate_sum_e9,
    completions = completions + excluded.completions;

INSERT INTO gold_agg_user_episode (user_id, episode_id, plays, completions, complete_duration_sum)
SELECT user_id, episode_id, plays, completions, complete_duration_sum
FROM temp.gold_tmp_pair
WHERE true
ON CONFLICT (user_id, episode_id) DO UPDATE SET
    plays                 = plays + excluded.plays,
    completions           = completions + excluded.completions,
    complete_duration_sum = complete_duration_sum + excluded.complete_duration_sum;

------------------------------------------------------------------------------ cohorts
INSERT INTO gold_agg_cohort_period (cohort_month, period, period_number, active_users)
SELECT cohort_month, period, period_number, COUNT(*)
FROM temp.gold_tmp_period
WHERE true
GROUP BY cohort_month, period, period_number
ON CONFLICT (cohort_month, period, period_number) DO UPDATE SET
    active_users = active_users + excluded.active_users;

DROP TABLE temp.gold_tmp_event;
DROP TABLE temp.gold_tmp_triple;
DROP TABLE temp.gold_tmp_user_day;
DROP TABLE temp.gold_tmp_period;
DROP TABLE temp.gold_tmp_pair;
DROP TABLE temp.gold_tmp_multi;
