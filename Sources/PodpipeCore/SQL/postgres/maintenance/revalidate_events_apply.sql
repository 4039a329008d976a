-- maintenance revalidate_events_apply (PostgreSQL) — rewrites silver_event to the
-- revalidated events, as SQLite's maintenance/revalidate_events_apply.sql (the same four
-- steps; an event_id of a key that stays is kept, new keys get ids in processing order).
-- Inside the command's transaction, which holds every host's silver writers back.
INSERT INTO silver_event (ts, user_id, episode_id, event_type, duration, file_id, line_no)
SELECT n.ts, n.user_id, n.episode_id, n.event_type, n.duration, n.file_id, n.line_no
FROM revalidated_event AS n
WHERE NOT EXISTS (
    SELECT 1 FROM silver_event AS s
    WHERE s.ts = n.ts AND s.user_id = n.user_id AND s.episode_id = n.episode_id
      AND s.event_type = n.event_type)
ORDER BY n.file_id, n.line_no;

UPDATE silver_event
SET duration = n.duration, file_id = n.file_id, line_no = n.line_no
FROM revalidated_event AS n
WHERE n.ts = silver_event.ts AND n.user_id = silver_event.user_id
  AND n.episode_id = silver_event.episode_id AND n.event_type = silver_event.event_type
  AND (silver_event.duration IS DISTINCT FROM n.duration OR silver_event.file_id <> n.file_id
       OR silver_event.line_no <> n.line_no);

DELETE FROM silver_event
WHERE NOT EXISTS (
    SELECT 1 FROM revalidated_event AS n
    WHERE n.ts = silver_event.ts AND n.user_id = silver_event.user_id
      AND n.episode_id = silver_event.episode_id AND n.event_type = silver_event.event_type);

UPDATE bronze_event
SET outcome = c.outcome, error_codes = c.error_codes
FROM revalidated_bronze AS c
WHERE bronze_event.bronze_id = c.bronze_id;
