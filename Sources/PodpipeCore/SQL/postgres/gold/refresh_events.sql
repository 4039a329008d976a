-- refresh_events — fold one batch of silver events (gold_tmp_triple, from refresh_batch)
-- into the aggregates, set-based on the server (PostgreSQL's counterpart of SQLite's
-- refresh_20_events; the definitions are those of SQLite's migration 0002).
-- After refresh_reset (an empty gold, the batch = all of silver) it is the full rebuild;
-- otherwise the incremental refresh from the event-id watermark. Reference snapshots
-- (gold_ref_user / gold_ref_episode) equal silver here: refresh_reference (or refresh_reset)
-- has just aligned them.
--
-- Silver is append-only between rebuilds, so every counter only grows, and a distinct
-- counter is incremented exactly when its key is seen for the first time: first the batch's
-- keys are probed against gold as it was BEFORE the batch (the gold_tmp_* tables below,
-- materialized before any aggregate changes), then the aggregates are updated.
-- Arithmetic: sums of durations and of rates saturate (podpipe_clamp, podpipe_rate_e9),
-- as SQLite's podpipe_add / podpipe_sum; counts are COUNT(*)s of silver rows.

--------------------------------------------------------- probes against the state before
UPDATE gold_tmp_triple AS t SET old_listened = g.listened
FROM gold_agg_day_user_episode AS g
WHERE g.day = t.day AND g.user_id = t.user_id AND g.episode_id = t.episode_id;

-- (user, day) of the batch: is_new (no row of the user that day before), before_count (the
-- episodes the user had listened that day), added (those the batch makes listened).
CREATE TEMP TABLE gold_tmp_user_day ON COMMIT DROP AS
SELECT d.user_id, d.day, d.added,
       NOT EXISTS (
           SELECT 1 FROM gold_agg_user_day AS u
           WHERE u.user_id = d.user_id AND u.day = d.day)                       AS is_new,
       (SELECT COUNT(*) FROM gold_agg_day_user_episode AS g
        WHERE g.day = d.day AND g.user_id = d.user_id AND g.listened = 1)        AS before_count
FROM (
    SELECT user_id, day,
           COUNT(*) FILTER (WHERE listened = 1 AND COALESCE(old_listened, 0) = 0) AS added
    FROM gold_tmp_triple
    GROUP BY user_id, day
) AS d;

-- (user, episode) listen pairs of the batch (a play or complete), and the pair's
-- complete_duration_sum before (NULL: a new pair).
CREATE TEMP TABLE gold_tmp_pair ON COMMIT DROP AS
SELECT p.user_id, p.episode_id, p.plays, p.completions, p.complete_duration_sum,
       g.complete_duration_sum AS old_duration_sum
FROM (
    SELECT user_id, episode_id, SUM(plays)::bigint AS plays,
           SUM(completions)::bigint AS completions,
           podpipe_clamp(SUM(complete_duration_sum)) AS complete_duration_sum
    FROM gold_tmp_triple
    WHERE listened = 1
    GROUP BY user_id, episode_id
) AS p
LEFT JOIN gold_agg_user_episode AS g ON g.user_id = p.user_id AND g.episode_id = p.episode_id;

-- Cohorts: the batch's new active days of known users on or after their signup date, their
-- week and month after signup, and whether the user was already active in that week /
-- month before the batch.
CREATE TEMP TABLE gold_tmp_period ON COMMIT DROP AS
WITH known_day AS (
    SELECT d.user_id, d.day, u.cohort_month, u.signup_day,
           (d.day - u.signup_day) / 7 AS week_number,
           extract(year FROM date '1970-01-01' + d.day::integer)::bigint * 12
               + extract(month FROM date '1970-01-01' + d.day::integer)::bigint - 1
               - u.signup_month_index AS month_number,
           GREATEST(u.signup_day,
                    date_trunc('month', date '1970-01-01' + d.day::integer)::date
                        - date '1970-01-01') AS month_lo,
           (date_trunc('month', date '1970-01-01' + d.day::integer) + interval '1 month')::date
               - date '1970-01-01' - 1 AS month_hi
    FROM gold_tmp_user_day AS d
    JOIN gold_ref_user AS u ON u.user_id = d.user_id
    WHERE d.is_new AND d.day >= u.signup_day
),
probed AS (
    SELECT k.*,
           NOT EXISTS (
               SELECT 1 FROM gold_agg_user_day AS t
               WHERE t.user_id = k.user_id
                 AND t.day BETWEEN k.signup_day + k.week_number * 7
                               AND k.signup_day + k.week_number * 7 + 6) AS new_week,
           NOT EXISTS (
               SELECT 1 FROM gold_agg_user_day AS t
               WHERE t.user_id = k.user_id AND t.day BETWEEN k.month_lo AND k.month_hi) AS new_month
    FROM known_day AS k
)
SELECT DISTINCT cohort_month, 'week'::text COLLATE "C" AS period, week_number AS period_number, user_id
FROM probed WHERE new_week
UNION
SELECT DISTINCT cohort_month, 'month', month_number, user_id
FROM probed WHERE new_month;

-- Users qualifying on a day for the first time (crossing 3 listened episodes that day).
CREATE TEMP TABLE gold_tmp_multi ON COMMIT DROP AS
SELECT user_id, COUNT(*) AS days, MIN(day) AS first_day
FROM gold_tmp_user_day
WHERE before_count < 3 AND before_count + added >= 3
GROUP BY user_id;

------------------------------------------------------------- (day, user, episode), (user, day)
INSERT INTO gold_agg_day_user_episode AS g (day, user_id, episode_id, listened)
SELECT day, user_id, episode_id, listened
FROM gold_tmp_triple
WHERE old_listened IS NULL OR listened > old_listened
ON CONFLICT (day, user_id, episode_id) DO UPDATE SET listened = excluded.listened;

INSERT INTO gold_agg_user_day (user_id, day)
SELECT user_id, day FROM gold_tmp_user_day WHERE is_new;

------------------------------------------------------------------------- per day
INSERT INTO gold_agg_day AS g
    (day, events, plays, pauses, seeks, completions,
     active_users, listening_users, multi_episode_users)
SELECT t.day, t.events, t.plays, t.pauses, t.seeks, t.completions,
       u.active_users, u.listening_users, u.multi_episode_users
FROM (
    SELECT day, SUM(events)::bigint AS events, SUM(plays)::bigint AS plays,
           SUM(pauses)::bigint AS pauses, SUM(seeks)::bigint AS seeks,
           SUM(completions)::bigint AS completions
    FROM gold_tmp_triple GROUP BY day
) AS t
JOIN (
    SELECT day,
           COUNT(*) FILTER (WHERE is_new) AS active_users,
           COUNT(*) FILTER (WHERE before_count = 0 AND added > 0) AS listening_users,
           COUNT(*) FILTER (WHERE before_count < 3 AND before_count + added >= 3)
               AS multi_episode_users
    FROM gold_tmp_user_day GROUP BY day
) AS u ON u.day = t.day
ON CONFLICT (day) DO UPDATE SET
    events              = g.events + excluded.events,
    plays               = g.plays + excluded.plays,
    pauses              = g.pauses + excluded.pauses,
    seeks               = g.seeks + excluded.seeks,
    completions         = g.completions + excluded.completions,
    active_users        = g.active_users + excluded.active_users,
    listening_users     = g.listening_users + excluded.listening_users,
    multi_episode_users = g.multi_episode_users + excluded.multi_episode_users;

------------------------------------------------------------------ multi-episode users
INSERT INTO gold_agg_multi_episode_user AS g (user_id, qualifying_days, first_day)
SELECT user_id, days, first_day FROM gold_tmp_multi
ON CONFLICT (user_id) DO UPDATE SET
    qualifying_days = g.qualifying_days + excluded.qualifying_days,
    first_day       = LEAST(g.first_day, excluded.first_day);

----------------------------------------------------------------------- per episode
INSERT INTO gold_agg_episode_day AS g (day, episode_id, completions)
SELECT day, episode_id, SUM(completions)::bigint
FROM gold_tmp_triple
WHERE completions > 0
GROUP BY day, episode_id
ON CONFLICT (day, episode_id) DO UPDATE SET completions = g.completions + excluded.completions;

INSERT INTO gold_agg_episode AS g
    (episode_id, plays, pauses, seeks, completions, complete_duration_sum, listeners,
     first_day, last_day)
SELECT t.episode_id, t.plays, t.pauses, t.seeks, t.completions, t.complete_duration_sum,
       COALESCE(n.listeners, 0), t.first_day, t.last_day
FROM (
    SELECT episode_id, SUM(plays)::bigint AS plays, SUM(pauses)::bigint AS pauses,
           SUM(seeks)::bigint AS seeks, SUM(completions)::bigint AS completions,
           podpipe_clamp(SUM(complete_duration_sum)) AS complete_duration_sum,
           MIN(day) AS first_day, MAX(day) AS last_day
    FROM gold_tmp_triple GROUP BY episode_id
) AS t
LEFT JOIN (
    SELECT episode_id, COUNT(*) AS listeners
    FROM gold_tmp_pair WHERE old_duration_sum IS NULL GROUP BY episode_id
) AS n ON n.episode_id = t.episode_id
ON CONFLICT (episode_id) DO UPDATE SET
    plays                 = g.plays + excluded.plays,
    pauses                = g.pauses + excluded.pauses,
    seeks                 = g.seeks + excluded.seeks,
    completions           = g.completions + excluded.completions,
    complete_duration_sum = podpipe_clamp(g.complete_duration_sum::numeric
                                          + excluded.complete_duration_sum),
    listeners             = g.listeners + excluded.listeners,
    first_day             = LEAST(g.first_day, excluded.first_day),
    last_day              = GREATEST(g.last_day, excluded.last_day);

-------------------------------------------------- (user, episode): listen-through by country
-- A pair's contribution is round(1e9 * S / D) of its total S: add new minus old.
INSERT INTO gold_agg_country_listen_through AS g (country, rate_sum_e9, completions)
SELECT u.country,
       podpipe_clamp(SUM(
           podpipe_rate_e9(podpipe_clamp(n.old_duration_sum::numeric + n.complete_duration_sum),
                           e.duration_seconds)::numeric
           - podpipe_rate_e9(n.old_duration_sum, e.duration_seconds))),
       SUM(n.completions)::bigint
FROM (
    SELECT user_id, episode_id, completions, complete_duration_sum,
           COALESCE(old_duration_sum, 0) AS old_duration_sum
    FROM gold_tmp_pair
    WHERE completions > 0
) AS n
JOIN gold_ref_user AS u ON u.user_id = n.user_id
JOIN gold_ref_episode AS e ON e.episode_id = n.episode_id AND e.duration_seconds > 0
GROUP BY u.country
ON CONFLICT (country) DO UPDATE SET
    rate_sum_e9 = podpipe_clamp(g.rate_sum_e9::numeric + excluded.rate_sum_e9),
    completions = g.completions + excluded.completions;

INSERT INTO gold_agg_user_episode AS g
    (user_id, episode_id, plays, completions, complete_duration_sum)
SELECT user_id, episode_id, plays, completions, complete_duration_sum
FROM gold_tmp_pair
ON CONFLICT (user_id, episode_id) DO UPDATE SET
    plays                 = g.plays + excluded.plays,
    completions           = g.completions + excluded.completions,
    complete_duration_sum = podpipe_clamp(g.complete_duration_sum::numeric
                                          + excluded.complete_duration_sum);

------------------------------------------------------------------------------ cohorts
INSERT INTO gold_agg_cohort_period AS g (cohort_month, period, period_number, active_users)
SELECT cohort_month, period, period_number, COUNT(*)
FROM gold_tmp_period
GROUP BY cohort_month, period, period_number
ON CONFLICT (cohort_month, period, period_number) DO UPDATE SET
    active_users = g.active_users + excluded.active_users;

DROP TABLE gold_tmp_user_day;
DROP TABLE gold_tmp_pair;
DROP TABLE gold_tmp_period;
DROP TABLE gold_tmp_multi;
DROP TABLE gold_tmp_triple;
