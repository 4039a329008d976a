-- refresh_reference — reconcile the aggregates with changed reference data, on PostgreSQL
-- (SQLite's refresh_10_reference, the same steps and definitions). Runs in an incremental
-- refresh when the change log gold_reference_change (filled by triggers on silver_user /
-- silver_episode) is not empty, before refresh_batch / refresh_events fold in new events.
--
-- gold_ref_user / gold_ref_episode record the reference state the aggregates reflect. The
-- ids in the change log are compared with them; for the members that really changed
-- (cost: the changed rows and their aggregates' rows):
--   * listen-through by country: subtract the pairs' contributions under the old state and
--     add them under the new one, in two phases (users first, with the old episode
--     snapshot; then episodes, with the new user snapshot) so that a pair whose user and
--     episode both changed moves exactly once;
--   * cohorts: move cohort sizes, and recompute the user's active weeks / months after
--     signup from gold_agg_user_day when the signup date changed.
-- A pair's contribution: podpipe_rate_e9(S, D); sums saturate (podpipe_clamp), as SQLite's.

---------------------------------------------------------------------------------- users
CREATE TEMP TABLE gold_tmp_user_change ON COMMIT DROP AS
SELECT
    c.id                                                   AS user_id,
    g.country                                              AS old_country,
    s.country                                              AS new_country,
    g.signup_date                                          AS old_signup_date,
    s.signup_date                                          AS new_signup_date,
    g.signup_day                                           AS old_signup_day,
    make_date(substr(s.signup_date, 1, 4)::integer, substr(s.signup_date, 6, 2)::integer,
              substr(s.signup_date, 9, 2)::integer) - date '1970-01-01' AS new_signup_day,
    g.signup_month_index                                   AS old_month_index,
    substr(s.signup_date, 1, 4)::bigint * 12 + substr(s.signup_date, 6, 2)::bigint - 1
                                                           AS new_month_index,
    g.cohort_month                                         AS old_cohort_month,
    substr(s.signup_date, 1, 7)                            AS new_cohort_month
FROM gold_reference_change AS c
LEFT JOIN gold_ref_user AS g ON g.user_id = c.id
LEFT JOIN silver_user AS s ON s.user_id = c.id
WHERE c.kind = 'user'
  AND (g.country IS DISTINCT FROM s.country OR g.signup_date IS DISTINCT FROM s.signup_date);

-- Listen-through, phase 1a: remove the changed users' pairs under their old country.
INSERT INTO gold_agg_country_listen_through AS t (country, rate_sum_e9, completions)
SELECT c.old_country,
       -podpipe_clamp(SUM(podpipe_rate_e9(p.complete_duration_sum, e.duration_seconds))),
       -SUM(p.completions)::bigint
FROM gold_tmp_user_change AS c
JOIN gold_agg_user_episode AS p ON p.user_id = c.user_id AND p.completions > 0
JOIN gold_ref_episode AS e ON e.episode_id = p.episode_id AND e.duration_seconds > 0
WHERE c.old_country IS NOT NULL
GROUP BY c.old_country
ON CONFLICT (country) DO UPDATE SET
    rate_sum_e9 = podpipe_clamp(t.rate_sum_e9::numeric + excluded.rate_sum_e9),
    completions = t.completions + excluded.completions;

-- Listen-through, phase 1b: add them under their new country (episode snapshot still old).
INSERT INTO gold_agg_country_listen_through AS t (country, rate_sum_e9, completions)
SELECT c.new_country,
       podpipe_clamp(SUM(podpipe_rate_e9(p.complete_duration_sum, e.duration_seconds))),
       SUM(p.completions)::bigint
FROM gold_tmp_user_change AS c
JOIN gold_agg_user_episode AS p ON p.user_id = c.user_id AND p.completions > 0
JOIN gold_ref_episode AS e ON e.episode_id = p.episode_id AND e.duration_seconds > 0
WHERE c.new_country IS NOT NULL
GROUP BY c.new_country
ON CONFLICT (country) DO UPDATE SET
    rate_sum_e9 = podpipe_clamp(t.rate_sum_e9::numeric + excluded.rate_sum_e9),
    completions = t.completions + excluded.completions;

-- Cohort sizes: a user whose signup date changed (or who appeared / disappeared) moves.
INSERT INTO gold_agg_cohort_size AS t (cohort_month, users)
SELECT old_cohort_month, -COUNT(*)
FROM gold_tmp_user_change
WHERE old_cohort_month IS NOT NULL AND old_signup_date IS DISTINCT FROM new_signup_date
GROUP BY old_cohort_month
ON CONFLICT (cohort_month) DO UPDATE SET users = t.users + excluded.users;

INSERT INTO gold_agg_cohort_size AS t (cohort_month, users)
SELECT new_cohort_month, COUNT(*)
FROM gold_tmp_user_change
WHERE new_cohort_month IS NOT NULL AND old_signup_date IS DISTINCT FROM new_signup_date
GROUP BY new_cohort_month
ON CONFLICT (cohort_month) DO UPDATE SET users = t.users + excluded.users;

-- Cohort activity of the users whose signup date changed: their active weeks / months
-- after signup, from their active days, withdrawn (-1) from the old cohort and counted
-- (+1) in the new one (UNION removes the duplicates: several days in one week).
INSERT INTO gold_agg_cohort_period AS t (cohort_month, period, period_number, active_users)
SELECT cohort_month, period, period_number, SUM(delta)::bigint
FROM (
    SELECT c.user_id, c.old_cohort_month AS cohort_month, 'week'::text COLLATE "C" AS period,
           (d.day - c.old_signup_day) / 7 AS period_number, -1 AS delta
    FROM gold_tmp_user_change AS c
    JOIN gold_agg_user_day AS d ON d.user_id = c.user_id
    WHERE c.old_signup_date IS NOT NULL AND c.old_signup_date IS DISTINCT FROM c.new_signup_date
      AND d.day >= c.old_signup_day
    UNION
    SELECT c.user_id, c.old_cohort_month, 'month',
           extract(year FROM date '1970-01-01' + d.day::integer)::bigint * 12
               + extract(month FROM date '1970-01-01' + d.day::integer)::bigint - 1
               - c.old_month_index,
           -1
    FROM gold_tmp_user_change AS c
    JOIN gold_agg_user_day AS d ON d.user_id = c.user_id
    WHERE c.old_signup_date IS NOT NULL AND c.old_signup_date IS DISTINCT FROM c.new_signup_date
      AND d.day >= c.old_signup_day
    UNION
    SELECT c.user_id, c.new_cohort_month, 'week', (d.day - c.new_signup_day) / 7, 1
    FROM gold_tmp_user_change AS c
    JOIN gold_agg_user_day AS d ON d.user_id = c.user_id
    WHERE c.new_signup_date IS NOT NULL AND c.old_signup_date IS DISTINCT FROM c.new_signup_date
      AND d.day >= c.new_signup_day
    UNION
    SELECT c.user_id, c.new_cohort_month, 'month',
           extract(year FROM date '1970-01-01' + d.day::integer)::bigint * 12
               + extract(month FROM date '1970-01-01' + d.day::integer)::bigint - 1
               - c.new_month_index,
           1
    FROM gold_tmp_user_change AS c
    JOIN gold_agg_user_day AS d ON d.user_id = c.user_id
    WHERE c.new_signup_date IS NOT NULL AND c.old_signup_date IS DISTINCT FROM c.new_signup_date
      AND d.day >= c.new_signup_day
) AS moved
GROUP BY cohort_month, period, period_number
ON CONFLICT (cohort_month, period, period_number) DO UPDATE SET
    active_users = t.active_users + excluded.active_users;

-- The user snapshot now matches silver_user.
DELETE FROM gold_ref_user
WHERE user_id IN (SELECT user_id FROM gold_tmp_user_change WHERE new_country IS NULL);

INSERT INTO gold_ref_user AS t
    (user_id, country, signup_date, signup_day, signup_month_index, cohort_month)
SELECT user_id, new_country, new_signup_date, new_signup_day, new_month_index, new_cohort_month
FROM gold_tmp_user_change
WHERE new_country IS NOT NULL
ON CONFLICT (user_id) DO UPDATE SET
    country = excluded.country, signup_date = excluded.signup_date,
    signup_day = excluded.signup_day, signup_month_index = excluded.signup_month_index,
    cohort_month = excluded.cohort_month;

------------------------------------------------------------------------------- episodes
CREATE TEMP TABLE gold_tmp_episode_change ON COMMIT DROP AS
SELECT c.id AS episode_id,
       g.duration_seconds AS old_duration,
       s.duration_seconds AS new_duration
FROM gold_reference_change AS c
LEFT JOIN gold_ref_episode AS g ON g.episode_id = c.id
LEFT JOIN silver_episode AS s ON s.episode_id = c.id
WHERE c.kind = 'episode'
  AND g.duration_seconds IS DISTINCT FROM s.duration_seconds;

-- Listen-through, phase 2a: remove the changed episodes' pairs under the old duration
-- (users as they are now) ...
INSERT INTO gold_agg_country_listen_through AS t (country, rate_sum_e9, completions)
SELECT u.country,
       -podpipe_clamp(SUM(podpipe_rate_e9(p.complete_duration_sum, c.old_duration))),
       -SUM(p.completions)::bigint
FROM gold_tmp_episode_change AS c
JOIN gold_agg_user_episode AS p ON p.episode_id = c.episode_id AND p.completions > 0
JOIN gold_ref_user AS u ON u.user_id = p.user_id
WHERE c.old_duration > 0
GROUP BY u.country
ON CONFLICT (country) DO UPDATE SET
    rate_sum_e9 = podpipe_clamp(t.rate_sum_e9::numeric + excluded.rate_sum_e9),
    completions = t.completions + excluded.completions;

-- ... phase 2b: add them under the new duration.
INSERT INTO gold_agg_country_listen_through AS t (country, rate_sum_e9, completions)
SELECT u.country,
       podpipe_clamp(SUM(podpipe_rate_e9(p.complete_duration_sum, c.new_duration))),
       SUM(p.completions)::bigint
FROM gold_tmp_episode_change AS c
JOIN gold_agg_user_episode AS p ON p.episode_id = c.episode_id AND p.completions > 0
JOIN gold_ref_user AS u ON u.user_id = p.user_id
WHERE c.new_duration > 0
GROUP BY u.country
ON CONFLICT (country) DO UPDATE SET
    rate_sum_e9 = podpipe_clamp(t.rate_sum_e9::numeric + excluded.rate_sum_e9),
    completions = t.completions + excluded.completions;

DELETE FROM gold_ref_episode
WHERE episode_id IN (SELECT episode_id FROM gold_tmp_episode_change WHERE new_duration IS NULL);

INSERT INTO gold_ref_episode AS t (episode_id, duration_seconds)
SELECT episode_id, new_duration
FROM gold_tmp_episode_change
WHERE new_duration IS NOT NULL
ON CONFLICT (episode_id) DO UPDATE SET duration_seconds = excluded.duration_seconds;

-- Counters that reached zero are removed, so that the tables hold exactly the rows a full
-- rebuild would.
DELETE FROM gold_agg_country_listen_through WHERE completions = 0;
DELETE FROM gold_agg_cohort_size WHERE users = 0;
DELETE FROM gold_agg_cohort_period WHERE active_users = 0;

DELETE FROM gold_reference_change;
DROP TABLE gold_tmp_user_change;
DROP TABLE gold_tmp_episode_change;
-- dim_date is fitted to the new reference span by the refresher (refresh_dim_date after
-- emptying it).
