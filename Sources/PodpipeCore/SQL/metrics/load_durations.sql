-- metrics load_durations — the observations of the histogram podpipe_file_load_seconds.
-- Grain: one (kind, duration_ms): how many file versions took that long, from the start of
-- their transaction to its end (ingest_file.duration_ms), for the files read to the end
-- (loaded, rejected, duplicate; a failed attempt's time is not a load). Distinct
-- durations are few next to the files, so the buckets are counted in Swift.
-- Portable: the same file on SQLite and PostgreSQL.
SELECT kind, duration_ms, count(*) AS files
FROM ingest_file
WHERE state IN ('loaded', 'rejected', 'duplicate')
GROUP BY kind, duration_ms
ORDER BY kind, duration_ms
