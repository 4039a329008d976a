-- maintenance reprocess_forget (PostgreSQL) — `podpipectl reprocess`: forgets the ledger rows
-- listed in reprocess_file and every bronze and silver row they contributed, as SQLite's
-- maintenance/reprocess_forget.sql (the same rows; see its header for the load order kept in
-- pipeline_state 'load_order.<sha256>'). Runs in the command's one transaction with the bump
-- of silver.generation (gold then rebuilds in full at the next refresh, on whichever host)
-- and, for reference files, a replay of the remaining reference rows.
--
-- Other hosts load beside it. Two locks, in this order (the order a file's transaction takes
-- them in, so the two never wait on each other in a circle):
--   1. the advisory lock of each forgotten file's bytes (kind, sha256: PostgresIngestSession),
--      so a host loading the same bytes now waits, then finds no loaded row and loads them
--      (never a `duplicate` pointing at a forgotten row);
--   2. the gold refresh's lock, exclusive: silver writers of every host wait for the commit
--      (their statements take it shared, migration 0002), and no refresh runs meanwhile, so
--      the next refresh sees the new silver.generation and rebuilds in full.
SELECT pg_advisory_xact_lock(1886348401, hashtext(b.kind || ':' || b.sha256))
FROM (
    SELECT DISTINCT f.kind, f.sha256
    FROM ingest_file AS f
    WHERE f.file_id IN (SELECT file_id FROM reprocess_file) AND f.sha256 <> ''
    ORDER BY f.kind, f.sha256
) AS b;
SELECT pg_advisory_xact_lock(1886348400, 2);
INSERT INTO pipeline_state (key, value)
SELECT 'load_order.' || f.sha256, f.file_id::text
FROM ingest_file AS f
WHERE f.file_id IN (SELECT file_id FROM reprocess_file)
  AND f.kind = 'events' AND f.state = 'loaded'
ON CONFLICT (key) DO NOTHING;
DELETE FROM silver_event WHERE file_id IN (SELECT file_id FROM reprocess_file);
-- An event file's bronze rows: its bronze_id range in the ledger.
DELETE FROM bronze_event AS b
USING reprocess_file AS r, ingest_file AS f
WHERE f.file_id = r.file_id
  AND b.bronze_id BETWEEN f.bronze_first_id AND f.bronze_last_id
  AND b.file_id = f.file_id;
DELETE FROM bronze_reference WHERE file_id IN (SELECT file_id FROM reprocess_file);
UPDATE ingest_file SET duplicate_of = NULL
WHERE duplicate_of IN (SELECT file_id FROM reprocess_file);
UPDATE ingest_file SET previous_version = NULL
WHERE previous_version IN (SELECT file_id FROM reprocess_file);
DELETE FROM ingest_file WHERE file_id IN (SELECT file_id FROM reprocess_file);
