-- Migration 0014: silver's natural-key index holds (ts, key_hash) instead of the key's texts
-- (issue 15). Shipped migrations are never edited: change the schema with a new numbered file.
-- key_hash = podpipe_silver_key_hash(user_id, episode_id, event_type): a 31-bit hash of the
-- three texts (Store/SilverKeySlot.swift), about half the index's size. The hash only says
-- where a key lives; whether two keys are equal is always decided on the full key:
--   - a row whose slot (ts, key_hash) another key already holds is stored with key_hash NULL,
--     and the slot is recorded in silver_event_key_collision (kept through deletes), so that
--     a key whose slot is not recorded can only be found at its slot;
--   - uniqueness of the full key is kept by the one writer (the loader and revalidation),
--     which look a recorded slot's keys up by ts and the full key.

-- Slots where two different keys met. Grain: one (ts, key_hash).
CREATE TABLE silver_event_key_collision (
    ts       INTEGER NOT NULL,
    key_hash INTEGER NOT NULL,
    PRIMARY KEY (ts, key_hash)
) WITHOUT ROWID;

ALTER TABLE silver_event ADD COLUMN key_hash INTEGER;
UPDATE silver_event SET key_hash = podpipe_silver_key_hash(user_id, episode_id, event_type);

-- Existing rows that share a slot: the first loaded keeps it, the others move off (NULL).
INSERT INTO silver_event_key_collision (ts, key_hash)
SELECT ts, key_hash FROM silver_event GROUP BY ts, key_hash HAVING count(*) > 1;
UPDATE silver_event SET key_hash = NULL
WHERE (ts, key_hash) IN (SELECT ts, key_hash FROM silver_event_key_collision)
  AND event_id > (SELECT min(o.event_id) FROM silver_event AS o
                  WHERE o.ts = silver_event.ts AND o.key_hash = silver_event.key_hash);

DROP INDEX silver_event_natural_key;
CREATE UNIQUE INDEX silver_event_natural_key ON silver_event (ts, key_hash);
