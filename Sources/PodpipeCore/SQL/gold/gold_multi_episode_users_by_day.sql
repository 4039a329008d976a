-- gold_multi_episode_users_by_day — multi-episode listeners per UTC day.
-- Grain: one UTC day ('YYYY-MM-DD') with at least one such user, sorted by day.
-- Definition (SPEC §5.3): users = distinct users (known to the reference data or not) who
-- that day played or completed 3 or more different episodes.
-- The overall answer, gold_multi_episode_users.users, counts distinct users over all days
-- (a user qualifying on several days counts once); it is maintained by refresh_20_events.
-- Source: gold_agg_day.multi_episode_users (incremented when a (user, day) crosses 3).
SELECT date(day * 86400, 'unixepoch') AS day, multi_episode_users AS users
FROM gold_agg_day
WHERE multi_episode_users > 0
ORDER BY day
