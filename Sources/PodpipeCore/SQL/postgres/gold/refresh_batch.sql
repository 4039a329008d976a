-- refresh_batch — gathers one batch of silver events into gold_tmp_triple (PostgreSQL).
-- Parameters: $1 < event_id <= $2, the batch's range ((watermark, max event_id], or
-- (0, max] after refresh_reset); $3 the longest duration gold counts
-- (EventValidator.maxDurationSeconds); $4 the latest ts gold reads
-- (Timestamps.latestSupported; later events stay out of gold, as on SQLite).
-- Grain of gold_tmp_triple: one (day, user_id, episode_id) of the batch, with its event
-- counts by type, complete_duration_sum (the complete events' durations, each held in
-- 0..$3, summed without overflow) and listened (1 when one of them is a play or complete).
-- refresh_events probes these keys against gold and folds them in.
INSERT INTO gold_tmp_triple
    (day, user_id, episode_id, events, plays, pauses, seeks, completions,
     complete_duration_sum, listened)
SELECT ts / 86400, user_id, episode_id,
       COUNT(*),
       COUNT(*) FILTER (WHERE event_type = 'play'),
       COUNT(*) FILTER (WHERE event_type = 'pause'),
       COUNT(*) FILTER (WHERE event_type = 'seek'),
       COUNT(*) FILTER (WHERE event_type = 'complete'),
       podpipe_clamp(COALESCE(
           SUM(LEAST(GREATEST(COALESCE(duration, 0), 0), $3::bigint))
               FILTER (WHERE event_type = 'complete'), 0)),
       MAX(CASE WHEN event_type IN ('play', 'complete') THEN 1 ELSE 0 END)
FROM silver_event
WHERE event_id > $1::bigint AND event_id <= $2::bigint AND ts <= $4::bigint
GROUP BY ts / 86400, user_id, episode_id
