-- report multi-episode-users --by-day (PostgreSQL; SQLite's is
-- SQL/reports/multi_episode_users_by_day.sql).
-- Grain: one UTC day with at least one such user, by day. Columns (SPEC §8): day,users.
-- See gold_multi_episode_users_by_day.
-- PostgreSQL: text sorts in byte order (COLLATE "C"), as SQLite's BINARY.
SELECT day, users
FROM gold_multi_episode_users_by_day
ORDER BY day COLLATE "C"
