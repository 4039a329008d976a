-- refresh_05_full — rebuild every aggregate and snapshot set-based from all of silver.
-- Runs after refresh_00_reset in a full rebuild (first refresh, silver.generation changed,
-- or forced); refresh_30_dim_date and the answer models follow.
--
-- Deliberately independent of the incremental path (refresh_10_reference +
-- refresh_20_events): each aggregate is one GROUP BY over silver (sorts instead of millions
-- of point lookups), and the tests check that both paths give identical tables.
-- Definitions are those of the tables in migration 0002.

-------------------------------------------------------------------- reference snapshots
INSERT INTO gold_ref_user
    (user_id, country, signup_date, signup_day, signup_month_index, cohort_month)
SELECT user_id, country, signup_date,
       CAST(strftime('%s', signup_date) AS INTEGER) / 86400,
       CAST(substr(signup_date, 1, 4) AS INTEGER) * 12
           + CAST(substr(signup_date, 6, 2) AS INTEGER) - 1,
       substr(signup_date, 1, 7)
FROM silver_user;

INSERT INTO gold_ref_episode (episode_id, duration_seconds)
SELECT episode_id, duration_seconds FROM silver_episode;

INSERT INTO gold_agg_cohort_size (cohort_month, users)
SELECT cohort_month, COUNT(*) FROM gold_ref_user GROUP BY cohort_month;

------------------------------------------------------------- (day, user, episode), (user, day)
INSERT INTO gold_agg_day_user_episode (day, user_id, episode_id, listened)
SELECT ts / 86400, user_id, episode_id, MAX(event_type IN ('play', 'complete'))
FROM silver_event
GROUP BY ts / 86400, user_id, episode_id;

INSERT INTO gold_agg_user_day (user_id, day)
SELECT DISTINCT user_id, day FROM gold_agg_day_user_episode ORDER BY user_id, day;

------------------------------------------------------------------------------ per day
INSERT INTO gold_agg_day (day, events, plays, pauses, seeks, completions)
SELECT ts / 86400, COUNT(*),
       SUM(event_type = 'play'), SUM(event_type = 'pause'),
       SUM(event_type = 'seek'), SUM(event_type = 'complete')
FROM silver_event
GROUP BY ts / 86400;

WITH user_day (day, user_id, listens) AS (
    SELECT day, user_id, SUM(listened)
    FROM gold_agg_day_user_episode
    GROUP BY day, user_id)
UPDATE gold_agg_day
SET active_users        = c.active_users,
    listening_users     = c.listening_users,
    multi_episode_users = c.multi_episode_users
FROM (
    SELECT day, COUNT(*) AS active_users, SUM(listens > 0) AS listening_users,
           SUM(listens >= 3) AS multi_episode_users
    FROM user_day
    GROUP BY day
) AS c
WHERE gold_agg_day.day = c.day;

------------------------------------------------------------------ multi-episode users
INSERT INTO gold_agg_multi_episode_user (user_id, qualifying_days, first_day)
SELECT user_id, COUNT(*), MIN(day)
FROM (
    SELECT day, user_id
    FROM gold_agg_day_user_episode
    GROUP BY day, user_id
    HAVING SUM(listened) >= 3
)
GROUP BY user_id;

UPDATE gold_multi_episode_users
SET users = (SELECT COUNT(*) FROM gold_agg_multi_episode_user);

--------------------------------------------------------------------------- per episode
INSERT INTO gold_agg_episode_day (day, episode_id, completions)
SELECT ts / 86400, episode_id, COUNT(*)
FROM silver_event
WHERE event_type = 'complete'
GROUP BY ts / 86400, episode_id;

INSERT INTO gold_agg_user_episode (user_id, episode_id, plays, completions, complete_duration_sum)
SELECT user_id, episode_id,
       SUM(event_type = 'play'), SUM(event_type = 'complete'),
       COALESCE(SUM(CASE WHEN event_type = 'complete' THEN duration END), 0)
FROM silver_event
WHERE event_type IN ('play', 'complete')
GROUP BY user_id, episode_id;

INSERT INTO gold_agg_episode
    (episode_id, plays, pauses, seeks, completions, complete_duration_sum, listeners,
     first_day, last_day)
SELECT e.episode_id, e.plays, e.pauses, e.seeks, e.completions, e.complete_duration_sum,
       COALESCE(l.listeners, 0), e.first_day, e.last_day
FROM (
    SELECT episode_id,
           SUM(event_type = 'play') AS plays, SUM(event_type = 'pause') AS pauses,
           SUM(event_type = 'seek') AS seeks, SUM(event_type = 'complete') AS completions,
           COALESCE(SUM(CASE WHEN event_type = 'complete' THEN duration END), 0)
               AS complete_duration_sum,
           MIN(ts) / 86400 AS first_day, MAX(ts) / 86400 AS last_day
    FROM silver_event
    GROUP BY episode_id
) AS e
LEFT JOIN (
    SELECT episode_id, COUNT(*) AS listeners
    FROM gold_agg_user_episode
    GROUP BY episode_id
) AS l ON l.episode_id = e.episode_id;

------------------------------------------------------------ listen-through by country
INSERT INTO gold_agg_country_listen_through (country, rate_sum_e9, completions)
SELECT u.country,
       SUM((p.complete_duration_sum / e.duration_seconds) * 1000000000
           + ((p.complete_duration_sum % e.duration_seconds) * 1000000000
              + e.duration_seconds / 2) / e.duration_seconds),
       SUM(p.completions)
FROM gold_agg_user_episode AS p
JOIN gold_ref_user AS u ON u.user_id = p.user_id
JOIN gold_ref_episode AS e ON e.episode_id = p.episode_id AND e.duration_seconds > 0
WHERE p.completions > 0
GROUP BY u.country;

------------------------------------------------------------------------------ cohorts
INSERT INTO gold_agg_cohort_period (cohort_month, period, period_number, active_users)
SELECT cohort_month, period, period_number, COUNT(*)
FROM (
    SELECT d.user_id, u.cohort_month, 'week' AS period,
           (d.day - u.signup_day) / 7 AS period_number
    FROM gold_agg_user_day AS d
    JOIN gold_ref_user AS u ON u.user_id = d.user_id
    WHERE d.day >= u.signup_day
    UNION
    SELECT d.user_id, u.cohort_month, 'month',
           CAST(strftime('%Y', d.day * 86400, 'unixepoch') AS INTEGER) * 12
               + CAST(strftime('%m', d.day * 86400, 'unixepoch') AS INTEGER) - 1
               - u.signup_month_index
    FROM gold_agg_user_day AS d
    JOIN gold_ref_user AS u ON u.user_id = d.user_id
    WHERE d.day >= u.signup_day
)
GROUP BY cohort_month, period, period_number;
