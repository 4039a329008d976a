-- report multi-episode-users — `podpipectl report multi-episode-users` (PostgreSQL; the
-- same SELECT as SQL/reports/multi_episode_users.sql).
-- Grain: exactly one row. Column (SPEC §8): users = distinct users who listened (play or
-- complete) to 3+ different episodes on at least one UTC day. See gold_multi_episode_users.
SELECT users
FROM gold_multi_episode_users
