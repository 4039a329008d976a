-- maintenance revalidate_events_apply — rewrites silver_event to the revalidated events,
-- keeping the event_id (the stable interaction id) of every natural key that stays:
--   1. new keys are inserted (in processing order, so their ids grow with load order), at
--      their slot or, where it is taken, beside it;
--      inserting before deleting means a removed event's id is never reused;
--   2. keys whose winning row or duration changed are updated in place;
--   3. keys no longer valid are deleted;
--   4. bronze rows take their new outcome and codes.
-- Runs inside the maintenance transaction, which then bumps silver.generation and rebuilds
-- gold: readers see the old silver and gold or the new ones, never a mix.
-- New keys take their slot (ts, key_hash) when neither silver nor an earlier new key holds
-- it, and otherwise go in with key_hash NULL and their slot recorded as a collision: the
-- loader's rules (Store/SilverKeySlot.swift).
CREATE TEMP TABLE revalidated_new AS
SELECT n.ts, n.user_id, n.episode_id, n.event_type, n.duration, n.file_id, n.line_no,
       podpipe_silver_key_hash(n.user_id, n.episode_id, n.event_type) AS key_hash,
       0 AS away
FROM temp.revalidated_event AS n
WHERE NOT EXISTS (
    SELECT 1 FROM silver_event AS s
    WHERE s.ts = n.ts AND s.user_id = n.user_id AND s.episode_id = n.episode_id
      AND s.event_type = n.event_type)
ORDER BY n.file_id, n.line_no;
CREATE INDEX temp.revalidated_new_slot ON revalidated_new (ts, key_hash);

-- away: the slot is taken, by silver or by an earlier new key (decided once, before the insert).
UPDATE temp.revalidated_new SET away = 1
WHERE EXISTS (SELECT 1 FROM silver_event AS s
              WHERE s.ts = revalidated_new.ts AND s.key_hash = revalidated_new.key_hash)
   OR EXISTS (SELECT 1 FROM temp.revalidated_new AS e
              WHERE e.ts = revalidated_new.ts AND e.key_hash = revalidated_new.key_hash
                AND e.rowid < revalidated_new.rowid);

INSERT OR IGNORE INTO silver_event_key_collision (ts, key_hash)
SELECT ts, key_hash FROM temp.revalidated_new WHERE away = 1;

INSERT INTO silver_event (ts, user_id, episode_id, event_type, duration, file_id, line_no, key_hash)
SELECT ts, user_id, episode_id, event_type, duration, file_id, line_no,
       CASE WHEN away = 1 THEN NULL ELSE key_hash END
FROM temp.revalidated_new
ORDER BY rowid;
DROP TABLE temp.revalidated_new;

UPDATE silver_event
SET duration = n.duration, file_id = n.file_id, line_no = n.line_no
FROM temp.revalidated_event AS n
WHERE n.ts = silver_event.ts AND n.user_id = silver_event.user_id
  AND n.episode_id = silver_event.episode_id AND n.event_type = silver_event.event_type
  AND (silver_event.duration IS NOT n.duration OR silver_event.file_id <> n.file_id
       OR silver_event.line_no <> n.line_no);

DELETE FROM silver_event
WHERE NOT EXISTS (
    SELECT 1 FROM temp.revalidated_event AS n
    WHERE n.ts = silver_event.ts AND n.user_id = silver_event.user_id
      AND n.episode_id = silver_event.episode_id AND n.event_type = silver_event.event_type);

UPDATE bronze_event
SET outcome = c.outcome, error_codes = c.error_codes
FROM temp.revalidated_bronze AS c
WHERE bronze_event.bronze_id = c.bronze_id;
