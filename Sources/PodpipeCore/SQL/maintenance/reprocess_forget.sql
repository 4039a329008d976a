-- maintenance reprocess_forget — `podpipectl reprocess`: forgets the ledger rows listed in
-- temp.reprocess_file and every bronze and silver row they contributed, so that the next
-- pass loads those files again from the start. Runs in one transaction with the bump of
-- silver.generation (gold then rebuilds fully) and, for reference files, a replay of the
-- remaining reference rows (the ids the forgotten file had set fall back to the earlier
-- files' values).
-- Ledger rows of other files that pointed at a forgotten one (duplicate_of,
-- previous_version) lose the pointer; their message still names the file.
-- Load order: an event file loaded again from the same bytes keeps its place in the load
-- order (pipeline_state 'load_order.<sha256>' = the file_id it first had), because the
-- events it had won come back to it when it is reloaded; `revalidate` orders event files
-- by that place (revalidate_event_files.sql).
INSERT INTO pipeline_state (key, value)
SELECT 'load_order.' || f.sha256, CAST(f.file_id AS TEXT)
FROM ingest_file AS f
WHERE f.file_id IN (SELECT file_id FROM temp.reprocess_file)
  AND f.kind = 'events' AND f.state = 'loaded'
ON CONFLICT (key) DO NOTHING;
DELETE FROM silver_event WHERE file_id IN (SELECT file_id FROM temp.reprocess_file);
-- An event file's bronze rows: its rowid range in the ledger (migration 0004).
DELETE FROM bronze_event
WHERE bronze_id IN (
    SELECT b.bronze_id
    FROM temp.reprocess_file AS r
    CROSS JOIN ingest_file AS f ON f.file_id = r.file_id
    CROSS JOIN bronze_event AS b ON b.bronze_id BETWEEN f.bronze_first_id AND f.bronze_last_id
    WHERE b.file_id = f.file_id);
DELETE FROM bronze_reference WHERE file_id IN (SELECT file_id FROM temp.reprocess_file);
UPDATE ingest_file SET duplicate_of = NULL
WHERE duplicate_of IN (SELECT file_id FROM temp.reprocess_file);
UPDATE ingest_file SET previous_version = NULL
WHERE previous_version IN (SELECT file_id FROM temp.reprocess_file);
DELETE FROM ingest_file WHERE file_id IN (SELECT file_id FROM temp.reprocess_file);
