-- refresh_00_reset — step 0 of a FULL gold rebuild (first refresh, silver.generation
-- changed, or forced). Empties every aggregate, snapshot and answer table; refresh_05_full
-- then rebuilds the reference snapshots, and GoldFullRebuild (Gold/GoldFullRebuild.swift)
-- the event aggregates from one scan of silver.
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
