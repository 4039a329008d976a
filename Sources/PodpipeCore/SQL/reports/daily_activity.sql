-- report daily-activity — events and active users per UTC day.
-- Grain: one UTC day with events, by day. Definition: see gold_daily_activity.
SELECT day, events, plays, pauses, seeks, completions, active_users, listening_users,
       multi_episode_users
FROM gold_daily_activity
ORDER BY day
