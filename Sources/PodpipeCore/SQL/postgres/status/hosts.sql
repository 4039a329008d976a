-- status hosts — `podpipectl status` on PostgreSQL: every podpiped of the warehouse, one per
-- (host, drop folder), as its daemon last recorded itself (daemon_state and daemon_waiting,
-- per (host, data_load) since migration 0004) and as the ledger knows it (its files, its
-- latest ledger row). A (host, folder) that only ran `podpiped --once` has no daemon_state
-- row: its daemon columns are NULL.
-- Grain: one (host, data_load), by host then folder in byte order. Columns are read by
-- position (StatusReport.hostRecords): daemon_state's, daemon_waiting.files_waiting,
-- ledger_files, last_file_at, data_load.
WITH ledger (host, data_load, files, last_file_at) AS (
    SELECT host, data_load, count(*), max(finished_at) FROM ingest_file GROUP BY host, data_load)
SELECT COALESCE(d.host, l.host) AS host, d.state, d.pid, d.started_at, d.heartbeat_at,
       d.heartbeat_interval_s, d.stale_after_s, d.watch_mode, d.data_load AS daemon_data_load,
       d.config_file, d.activity, d.last_scan_at, d.last_refresh_at, d.last_reload_at,
       d.files_loaded, d.files_rejected, d.files_duplicate, d.files_failed, d.stopped_at,
       d.stop_reason, d.clean_stop, w.files_waiting, COALESCE(l.files, 0) AS ledger_files,
       l.last_file_at, COALESCE(d.data_load, l.data_load) AS data_load
FROM daemon_state AS d
FULL JOIN ledger AS l ON l.host = d.host AND l.data_load = d.data_load
LEFT JOIN daemon_waiting AS w
       ON w.host = COALESCE(d.host, l.host) AND w.data_load = COALESCE(d.data_load, l.data_load)
ORDER BY COALESCE(d.host, l.host) COLLATE "C", COALESCE(d.data_load, l.data_load) COLLATE "C"
