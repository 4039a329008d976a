-- refresh_reset — the first step of a FULL gold rebuild on PostgreSQL (first refresh, a
-- silver rebuilt or shrunk, or forced): empties every aggregate,
-- snapshot and answer, and rebuilds the reference snapshots and cohort sizes from silver
-- (SQLite's refresh_00_reset + refresh_05_full). refresh_events then folds in every silver
-- event as one batch into the empty aggregates: the full rebuild and the incremental
-- refresh are the same SQL (an empty gold is the state "before" all of silver).
-- DELETE, not TRUNCATE: readers keep seeing the previous gold until COMMIT (MVCC);
-- TRUNCATE would block them and is not MVCC-safe.
DELETE FROM dim_date;
DELETE FROM gold_agg_day;
DELETE FROM gold_agg_episode_day;
DELETE FROM gold_agg_episode;
DELETE FROM gold_agg_day_user_episode;
DELETE FROM gold_agg_user_day;
DELETE FROM gold_agg_user_episode;
DELETE FROM gold_agg_multi_episode_user;
DELETE FROM gold_agg_country_listen_through;
DELETE FROM gold_agg_cohort_period;
DELETE FROM gold_agg_cohort_size;
DELETE FROM gold_ref_user;
DELETE FROM gold_ref_episode;
DELETE FROM gold_reference_change;
DELETE FROM gold_top_episodes_7d;
DELETE FROM gold_listen_through_by_country;
DELETE FROM gold_multi_episode_users;
INSERT INTO gold_multi_episode_users (users) VALUES (0);
DELETE FROM gold_multi_episode_users_by_day;

-- Reference snapshots (grain and meaning: SQLite's 0002, section 3). Signup dates are
-- validated YYYY-MM-DD (the rules), read by position, whatever the DateStyle.
INSERT INTO gold_ref_user
    (user_id, country, signup_date, signup_day, signup_month_index, cohort_month)
SELECT user_id, country, signup_date,
       make_date(substr(signup_date, 1, 4)::integer, substr(signup_date, 6, 2)::integer,
                 substr(signup_date, 9, 2)::integer) - date '1970-01-01',
       substr(signup_date, 1, 4)::bigint * 12 + substr(signup_date, 6, 2)::bigint - 1,
       substr(signup_date, 1, 7)
FROM silver_user;

INSERT INTO gold_ref_episode (episode_id, duration_seconds)
SELECT episode_id, duration_seconds FROM silver_episode;

INSERT INTO gold_agg_cohort_size (cohort_month, users)
SELECT cohort_month, COUNT(*) FROM gold_ref_user GROUP BY cohort_month;
