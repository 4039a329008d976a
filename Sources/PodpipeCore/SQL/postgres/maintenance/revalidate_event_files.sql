-- maintenance revalidate_event_files (PostgreSQL) — `podpipectl revalidate`: the event files
-- whose rows are validated again, in load order, as SQLite's
-- maintenance/revalidate_event_files.sql. Grain: one ledger row recorded `loaded`.
-- Load order is the ledger's processing order (file_id), except that a file forgotten by
-- `reprocess` and loaded again from the same bytes keeps its first place
-- (pipeline_state 'load_order.<sha256>').
SELECT f.file_id
FROM ingest_file AS f
LEFT JOIN pipeline_state AS p ON p.key = 'load_order.' || f.sha256
WHERE f.state = 'loaded' AND f.kind = 'events'
ORDER BY coalesce(CASE WHEN p.value ~ '^[0-9]{1,18}$' THEN p.value::bigint END, f.file_id), f.file_id
