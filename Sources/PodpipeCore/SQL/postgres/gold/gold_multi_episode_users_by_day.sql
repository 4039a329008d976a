-- gold_multi_episode_users_by_day — multi-episode listeners per UTC day (PostgreSQL;
-- SQLite's is SQL/gold/gold_multi_episode_users_by_day.sql, the same definition).
-- Grain: one UTC day ('YYYY-MM-DD') with at least one such user, sorted by day.
-- Definition (SPEC §5.3): users = distinct users who that day played or completed 3 or more
-- different episodes. Source: gold_agg_day.multi_episode_users.
SELECT podpipe_day_text(day) AS day, multi_episode_users AS users
FROM gold_agg_day
WHERE multi_episode_users > 0
ORDER BY day
