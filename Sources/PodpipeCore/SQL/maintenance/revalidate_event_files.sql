-- maintenance revalidate_event_files — `podpipectl revalidate`: the event files whose rows
-- are validated again, in load order. Grain: one ledger row recorded `loaded`.
-- Load order is the ledger's processing order (file_id), except that a file forgotten by
-- `reprocess` and loaded again from the same bytes keeps its first place
-- (pipeline_state 'load_order.<sha256>', see reprocess_forget.sql): the events it had won
-- went back to it when it was reloaded, so that is the order silver reflects.
SELECT f.file_id
FROM ingest_file AS f
LEFT JOIN pipeline_state AS p ON p.key = 'load_order.' || f.sha256
WHERE f.state = 'loaded' AND f.kind = 'events'
ORDER BY coalesce(CAST(p.value AS INTEGER), f.file_id), f.file_id
