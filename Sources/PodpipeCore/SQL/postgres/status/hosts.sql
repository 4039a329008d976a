-- status hosts — `podpipectl status` on PostgreSQL: every host of the warehouse, as its
-- daemon last recorded itself (daemon_state, one row per host; daemon_waiting, migration
-- 0003) and as the ledger knows it (its files, its latest ledger row). A host that only ran
-- `podpiped --once` has no daemon_state row: its daemon columns are NULL.
-- Grain: one host, by name in byte order. Columns are read by position
-- (StatusReport.hostRecords): daemon_state's, daemon_waiting.files_waiting, ledger_files,
-- last_file_at.
WITH ledger (host, files, last_file_at) AS (
    SELECT host, count(*), max(finished_at) FROM ingest_file GROUP BY host)
SELECT COALESCE(d.host, l.host) AS host, d.state, d.pid, d.started_at, d.heartbeat_at,
       d.heartbeat_interval_s, d.stale_after_s, d.watch_mode, d.data_load, d.config_file,
       d.activity, d.last_scan_at, d.last_refresh_at, d.last_reload_at, d.files_loaded,
       d.files_rejected, d.files_duplicate, d.files_failed, d.stopped_at, d.stop_reason,
       d.clean_stop, w.files_waiting, COALESCE(l.files, 0) AS ledger_files, l.last_file_at
FROM daemon_state AS d
FULL JOIN ledger AS l ON l.host = d.host
LEFT JOIN daemon_waiting AS w ON w.host = COALESCE(d.host, l.host)
ORDER BY COALESCE(d.host, l.host) COLLATE "C"
