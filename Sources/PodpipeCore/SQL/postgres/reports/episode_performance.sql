-- report episode-performance — per-episode engagement (PostgreSQL; SQLite's is
-- SQL/reports/episode_performance.sql).
-- Grain: one episode (reference or seen in events); sorted by completions, then plays, both
-- descending, then episode_id. Definition: see gold_episode_performance
-- (completion_rate = completions / plays; unique_listeners = distinct users with a play or
-- complete; avg_listen_through_rate over the episode's complete events).
-- PostgreSQL: text sorts in byte order (COLLATE "C"), as SQLite's BINARY.
SELECT episode_id, title, podcast_id, plays, completions, completion_rate,
       unique_listeners, avg_listen_through_rate
FROM gold_episode_performance
ORDER BY completions DESC, plays DESC, episode_id COLLATE "C"
