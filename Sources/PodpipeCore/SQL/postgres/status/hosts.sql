-- status hosts — `podpipectl status` on PostgreSQL: every host that ran a daemon against
-- the warehouse, as its daemon last recorded itself (daemon_state, one row per host), with
-- the files it waits for (files_waiting, migration 0003) and its rows in the ledger.
-- Grain: one host, by name in byte order. Columns are read by position
-- (StatusReport.hostRecords): daemon_state's, then files_waiting, ledger_files.
SELECT d.host, d.state, d.pid, d.started_at, d.heartbeat_at, d.heartbeat_interval_s,
       d.stale_after_s, d.watch_mode, d.data_load, d.config_file, d.activity, d.last_scan_at,
       d.last_refresh_at, d.last_reload_at, d.files_loaded, d.files_rejected,
       d.files_duplicate, d.files_failed, d.stopped_at, d.stop_reason, d.clean_stop,
       d.files_waiting,
       (SELECT count(*) FROM ingest_file AS f WHERE f.host = d.host) AS ledger_files
FROM daemon_state AS d
ORDER BY d.host COLLATE "C"
