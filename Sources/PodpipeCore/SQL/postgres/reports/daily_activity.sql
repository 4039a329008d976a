-- report daily-activity — events and active users per UTC day (PostgreSQL; SQLite's is
-- SQL/reports/daily_activity.sql).
-- Grain: one UTC day with events, by day. Definition: see gold_daily_activity.
-- PostgreSQL: text sorts in byte order (COLLATE "C"), as SQLite's BINARY.
SELECT day, events, plays, pauses, seeks, completions, active_users, listening_users,
       multi_episode_users
FROM gold_daily_activity
ORDER BY day COLLATE "C"
