-- refresh_05_full — rebuild the reference snapshots set-based from silver.
-- Runs after refresh_00_reset in a full rebuild (first refresh, silver.generation changed,
-- or forced); GoldFullRebuild (Gold/GoldFullRebuild.swift) then rebuilds every event
-- aggregate from one scan of silver, and refresh_30_dim_date and the answer models follow.
--
-- Why the event aggregates are not GROUP BYs here: SQLite has no hash aggregation, so each
-- GROUP BY over silver that no index serves sorts all of silver (~1.7 us per row measured,
-- ~10 s of CPU for the five such sorts on 1M events); one scan into hash tables, writing
-- each table in key order, does the same work in a fraction of that. The incremental path
-- (refresh_10_reference + refresh_20_events) is an independent implementation of the same
-- definitions; the tests check that both paths give identical tables.
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
