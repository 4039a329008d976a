-- report engagement-by-length — engagement by episode length bucket (PostgreSQL; SQLite's
-- is SQL/reports/engagement_by_length.sql).
-- Grain: one length bucket ('00-15 min' .. '90+ min', then 'unknown' for episodes missing
-- from the reference data), in that order. Definition: see gold_engagement_by_length.
-- PostgreSQL: text sorts in byte order (COLLATE "C"), as SQLite's BINARY.
SELECT length_bucket, episodes, plays, completions, completion_rate, avg_plays_per_episode,
       avg_listen_through_rate
FROM gold_engagement_by_length
ORDER BY length_bucket COLLATE "C"
