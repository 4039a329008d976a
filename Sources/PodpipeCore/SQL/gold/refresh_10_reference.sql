-- refresh_10_reference — reconcile the aggregates with changed reference data.
-- Runs in an incremental refresh when silver.reference_version changed or the change log
-- gold_reference_change is not empty (a full rebuild builds the snapshots from silver).
--
-- The aggregates hold, per (user, episode), the sums that reference-dependent answers need;
-- gold_ref_user / gold_ref_episode record the reference state those answers currently
-- reflect. The ids in gold_reference_change (logged by triggers on silver_user /
-- silver_episode) are compared with the snapshots, then for the members that really changed
-- (cost: proportional to the changed rows):
--   * listen-through by country: subtract the pairs' contributions under the old state and
--     add them under the new one, in two phases (users first, with the old episode
--     snapshot; then episodes, with the new user snapshot) so that a pair whose user and
--     episode both changed moves exactly once;
--   * cohorts: move cohort sizes, and recompute the user's active weeks/months after signup
--     from gold_agg_user_day when the signup date changed.
-- Joins are written CROSS JOIN to keep the (small) change tables as the outer loop: the
-- planner has no statistics on temp tables and would otherwise scan the big aggregates.
-- Titles and podcast ids are not snapshotted: the answers join them at the end.
--
-- Listen-through contribution of a pair with S complete seconds on an episode of D seconds:
-- podpipe_rate_e9(S, D) = round(1e9 * S / D) in 128-bit integer arithmetic, held at a cap
-- (exact and order-independent; see gold_agg_country_listen_through). podpipe_sum and
-- podpipe_add are SUM and + that saturate instead of overflowing (Gold/GoldArithmetic.swift:
-- values from files must never stop a refresh).

---------------------------------------------------------------------------------- users
DROP TABLE IF EXISTS temp.gold_tmp_user_change;
CREATE TEMP TABLE gold_tmp_user_change AS
SELECT
    c.id                                                        AS user_id,
    g.country                                                   AS old_country,
    s.country                                                   AS new_country,
    g.signup_date                                               AS old_signup_date,
    s.signup_date                                               AS new_signup_date,
    g.signup_day                                                AS old_signup_day,
    CAST(strftime('%s', s.signup_date) AS INTEGER) / 86400      AS new_signup_day,
    g.signup_month_index                                        AS old_month_index,
    CAST(substr(s.signup_date, 1, 4) AS INTEGER) * 12
        + CAST(substr(s.signup_date, 6, 2) AS INTEGER) - 1      AS new_month_index,
    g.cohort_month                                              AS old_cohort_month,
    substr(s.signup_date, 1, 7)                                 AS new_cohort_month
FROM gold_reference_change AS c
LEFT JOIN gold_ref_user AS g ON g.user_id = c.id
LEFT JOIN silver_user AS s ON s.user_id = c.id
WHERE c.kind = 'user'
  AND (g.country IS NOT s.country OR g.signup_date IS NOT s.signup_date);

-- Listen-through, phase 1a: remove the changed users' pairs under their old country.
INSERT INTO gold_agg_country_listen_through (country, rate_sum_e9, completions)
SELECT c.old_country,
       -podpipe_sum(podpipe_rate_e9(p.complete_duration_sum, e.duration_seconds)),
       -SUM(p.completions)
FROM temp.gold_tmp_user_change AS c
CROSS JOIN gold_agg_user_episode AS p ON p.user_id = c.user_id AND p.completions > 0
CROSS JOIN gold_ref_episode AS e ON e.episode_id = p.episode_id AND e.duration_seconds > 0
WHERE c.old_country IS NOT NULL
GROUP BY c.old_country
ON CONFLICT (country) DO UPDATE SET
    rate_sum_e9 = podpipe_add(rate_sum_e9, excluded.rate_sum_e9),
    completions = completions + excluded.completions;

-- Listen-through, phase 1b: add them under their new country (episode snapshot still old).
INSERT INTO gold_agg_country_listen_through (country, rate_sum_e9, completions)
SELECT c.new_country,
       podpipe_sum(podpipe_rate_e9(p.complete_duration_sum, e.duration_seconds)),
       SUM(p.completions)
FROM temp.gold_tmp_user_change AS c
CROSS JOIN gold_agg_user_episode AS p ON p.user_id = c.user_id AND p.completions > 0
CROSS JOIN gold_ref_episode AS e ON e.episode_id = p.episode_id AND e.duration_seconds > 0
WHERE c.new_country IS NOT NULL
GROUP BY c.new_country
ON CONFLICT (country) DO UPDATE SET
    rate_sum_e9 = podpipe_add(rate_sum_e9, excluded.rate_sum_e9),
    completions = completions + excluded.completions;

-- Cohort sizes: a user whose signup date changed (or who appeared / disappeared) moves.
INSERT INTO gold_agg_cohort_size (cohort_month, users)
SELECT old_cohort_month, -COUNT(*)
FROM temp.gold_tmp_user_change
WHERE old_cohort_month IS NOT NULL AND old_signup_date IS NOT new_signup_date
GROUP BY old_cohort_month
ON CONFLICT (cohort_month) DO UPDATE SET users = users + excluded.users;

INSERT INTO gold_agg_cohort_size (cohort_month, users)
SELECT new_cohort_month, COUNT(*)
FROM temp.gold_tmp_user_change
WHERE new_cohort_month IS NOT NULL AND old_signup_date IS NOT new_signup_date
GROUP BY new_cohort_month
ON CONFLICT (cohort_month) DO UPDATE SET users = users + excluded.users;

-- Cohort activity of the users whose signup date changed (or who appeared/disappeared):
-- their active weeks/months after signup, recomputed from their active days in
-- gold_agg_user_day, are withdrawn (-1) from the old cohort and counted (+1) in the
-- new one. (UNION removes the duplicates: several days in one week.)
INSERT INTO gold_agg_cohort_period (cohort_month, period, period_number, active_users)
SELECT cohort_month, period, period_number, SUM(delta)
FROM (
    SELECT c.user_id, c.old_cohort_month AS cohort_month, 'week' AS period,
           (t.day - c.old_signup_day) / 7 AS period_number, -1 AS delta
    FROM temp.gold_tmp_user_change AS c
    CROSS JOIN gold_agg_user_day AS t ON t.user_id = c.user_id
    WHERE c.old_signup_date IS NOT NULL AND c.old_signup_date IS NOT c.new_signup_date
      AND t.day >= c.old_signup_day
    UNION
    SELECT c.user_id, c.old_cohort_month, 'month',
           CAST(strftime('%Y', t.day * 86400, 'unixepoch') AS INTEGER) * 12
               + CAST(strftime('%m', t.day * 86400, 'unixepoch') AS INTEGER) - 1
               - c.old_month_index,
           -1
    FROM temp.gold_tmp_user_change AS c
    CROSS JOIN gold_agg_user_day AS t ON t.user_id = c.user_id
    WHERE c.old_signup_date IS NOT NULL AND c.old_signup_date IS NOT c.new_signup_date
      AND t.day >= c.old_signup_day
    UNION
    SELECT c.user_id, c.new_cohort_month, 'week', (t.day - c.new_signup_day) / 7, 1
    FROM temp.gold_tmp_user_change AS c
    CROSS JOIN gold_agg_user_day AS t ON t.user_id = c.user_id
    WHERE c.new_signup_date IS NOT NULL AND c.old_signup_date IS NOT c.new_signup_date
      AND t.day >= c.new_signup_day
    UNION
    SELECT c.user_id, c.new_cohort_month, 'month',
           CAST(strftime('%Y', t.day * 86400, 'unixepoch') AS INTEGER) * 12
               + CAST(strftime('%m', t.day * 86400, 'unixepoch') AS INTEGER) - 1
               - c.new_month_index,
           1
    FROM temp.gold_tmp_user_change AS c
    CROSS JOIN gold_agg_user_day AS t ON t.user_id = c.user_id
    WHERE c.new_signup_date IS NOT NULL AND c.old_signup_date IS NOT c.new_signup_date
      AND t.day >= c.new_signup_day
)
GROUP BY cohort_month, period, period_number
ON CONFLICT (cohort_month, period, period_number) DO UPDATE SET
    active_users = active_users + excluded.active_users;

-- The user snapshot now matches silver_user.
DELETE FROM gold_ref_user
WHERE user_id IN (
    SELECT user_id FROM temp.gold_tmp_user_change WHERE new_country IS NULL);

INSERT OR REPLACE INTO gold_ref_user
    (user_id, country, signup_date, signup_day, signup_month_index, cohort_month)
SELECT user_id, new_country, new_signup_date, new_signup_day, new_month_index, new_cohort_month
FROM temp.gold_tmp_user_change
WHERE new_country IS NOT NULL;

------------------------------------------------------------------------------- episodes
DROP TABLE IF EXISTS temp.gold_tmp_episode_change;
CREATE TEMP TABLE gold_tmp_episode_change AS
SELECT c.id AS episode_id,
       g.duration_seconds AS old_duration,
       s.duration_seconds AS new_duration
FROM gold_reference_change AS c
LEFT JOIN gold_ref_episode AS g ON g.episode_id = c.id
LEFT JOIN silver_episode AS s ON s.episode_id = c.id
WHERE c.kind = 'episode'
  AND g.duration_seconds IS NOT s.duration_seconds;

-- Listen-through, phase 2a: remove the changed episodes' pairs under the old duration
-- (users as they are now) ...
INSERT INTO gold_agg_country_listen_through (country, rate_sum_e9, completions)
SELECT u.country,
       -podpipe_sum(podpipe_rate_e9(p.complete_duration_sum, c.old_duration)),
       -SUM(p.completions)
FROM temp.gold_tmp_episode_change AS c
CROSS JOIN gold_agg_user_episode AS p ON p.episode_id = c.episode_id AND p.completions > 0
CROSS JOIN gold_ref_user AS u ON u.user_id = p.user_id
WHERE c.old_duration > 0
GROUP BY u.country
ON CONFLICT (country) DO UPDATE SET
    rate_sum_e9 = podpipe_add(rate_sum_e9, excluded.rate_sum_e9),
    completions = completions + excluded.completions;

-- ... phase 2b: add them under the new duration.
INSERT INTO gold_agg_country_listen_through (country, rate_sum_e9, completions)
SELECT u.country,
       podpipe_sum(podpipe_rate_e9(p.complete_duration_sum, c.new_duration)),
       SUM(p.completions)
FROM temp.gold_tmp_episode_change AS c
CROSS JOIN gold_agg_user_episode AS p ON p.episode_id = c.episode_id AND p.completions > 0
CROSS JOIN gold_ref_user AS u ON u.user_id = p.user_id
WHERE c.new_duration > 0
GROUP BY u.country
ON CONFLICT (country) DO UPDATE SET
    rate_sum_e9 = podpipe_add(rate_sum_e9, excluded.rate_sum_e9),
    completions = completions + excluded.completions;

DELETE FROM gold_ref_episode
WHERE episode_id IN (
    SELECT episode_id FROM temp.gold_tmp_episode_change WHERE new_duration IS NULL);

INSERT OR REPLACE INTO gold_ref_episode (episode_id, duration_seconds)
SELECT episode_id, new_duration
FROM temp.gold_tmp_episode_change
WHERE new_duration IS NOT NULL;

-- Counters that reached zero are removed, so that the tables hold exactly the rows a full
-- rebuild would.
DELETE FROM gold_agg_country_listen_through WHERE completions = 0;
DELETE FROM gold_agg_cohort_size WHERE users = 0;
DELETE FROM gold_agg_cohort_period WHERE active_users = 0;

DELETE FROM gold_reference_change;
DROP TABLE temp.gold_tmp_user_change;
DROP TABLE temp.gold_tmp_episode_change;
