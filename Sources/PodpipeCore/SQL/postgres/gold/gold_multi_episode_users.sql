-- gold_multi_episode_users — the one-row answer (PostgreSQL; SQLite keeps it by increments
-- in refresh_20_events, the same number).
-- Grain: exactly one row. users = distinct users who, on at least one UTC day, played or
-- completed 3 or more different episodes (gold_agg_multi_episode_user has one row per such
-- user).
UPDATE gold_multi_episode_users SET users = (SELECT COUNT(*) FROM gold_agg_multi_episode_user)
