-- maintenance revalidate_events_diff (PostgreSQL) — what an event revalidation changes in
-- silver, as SQLite's maintenance/revalidate_events_diff.sql. Grain: one row.
--   added    natural keys the revalidated silver has and silver has not
--   removed  natural keys silver has and the revalidated silver has not
--   changed  keys in both whose winning row (file, line) or duration differs
SELECT
    (SELECT count(*) FROM revalidated_event AS n
     WHERE NOT EXISTS (
         SELECT 1 FROM silver_event AS s
         WHERE s.ts = n.ts AND s.user_id = n.user_id AND s.episode_id = n.episode_id
           AND s.event_type = n.event_type)) AS added,
    (SELECT count(*) FROM silver_event AS s
     WHERE NOT EXISTS (
         SELECT 1 FROM revalidated_event AS n
         WHERE n.ts = s.ts AND n.user_id = s.user_id AND n.episode_id = s.episode_id
           AND n.event_type = s.event_type)) AS removed,
    (SELECT count(*) FROM silver_event AS s
     JOIN revalidated_event AS n
       ON n.ts = s.ts AND n.user_id = s.user_id AND n.episode_id = s.episode_id
      AND n.event_type = s.event_type
     WHERE s.duration IS DISTINCT FROM n.duration OR s.file_id <> n.file_id
        OR s.line_no <> n.line_no) AS changed
