-- report top-episodes — `podpipectl report top-episodes` (without --as-of) (PostgreSQL; the
-- same SELECT as SQL/reports/top_episodes.sql).
-- Grain: one ranked episode (rank 1..10). Columns are the CSV contract of SPEC §8:
-- rank,episode_id,title,podcast_id,completions.
-- Definition: see gold_top_episodes_7d (window: the 7 UTC days ending on the date of the
-- latest valid event). With --as-of, the report runs the model
-- SQL/postgres/gold/gold_top_episodes_7d.sql for that date instead of reading the table.
SELECT rank, episode_id, title, podcast_id, completions
FROM gold_top_episodes_7d
ORDER BY rank
