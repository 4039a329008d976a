-- report multi-episode-users --by-day.
-- Grain: one UTC day with at least one such user, by day. Columns (SPEC §8): day,users.
-- See gold_multi_episode_users_by_day.
SELECT day, users
FROM gold_multi_episode_users_by_day
ORDER BY day
