-- report engagement-by-length — engagement by episode length bucket.
-- Grain: one length bucket ('00-15 min' .. '90+ min', then 'unknown' for episodes missing
-- from the reference data), in that order. Definition: see gold_engagement_by_length.
SELECT length_bucket, episodes, plays, completions, completion_rate, avg_plays_per_episode,
       avg_listen_through_rate
FROM gold_engagement_by_length
ORDER BY length_bucket
