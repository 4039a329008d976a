-- metrics ledger_totals — `podpipectl metrics` and the metrics textfile: the ledger's
-- numbers behind podpipe_files, podpipe_rows_total, podpipe_rows_rejected_total,
-- podpipe_rows_duplicate_total, podpipe_read_bytes_total and podpipe_file_retries_total.
-- Grain: one (kind, state) of ingest_file: events | episodes | users × loaded | rejected |
-- duplicate | failed. Read from the ledger only (no scan of bronze or silver).
--   files       ledger rows (file versions) in that state
--   rows_read   rows received into bronze (non-blank lines / CSV records); a duplicate
--               file's rows were read but rolled back, a failed file's never committed
--   rows_loaded rows that reached silver; rows_rejected / rows_duplicate likewise
--   bytes       bytes of the files read to the end (not failed attempts)
--   retries     attempts after the first (a failed file retried, whatever came of it)
-- Portable: the same file on SQLite and PostgreSQL (sums cast to bigint: PostgreSQL's sum
-- of bigint is numeric; ORDER BY on PostgreSQL's "C" columns is SQLite's byte order).
SELECT kind, state,
       count(*) AS files,
       CAST(coalesce(sum(rows_read), 0) AS bigint) AS rows_read,
       CAST(coalesce(sum(rows_loaded), 0) AS bigint) AS rows_loaded,
       CAST(coalesce(sum(rows_rejected), 0) AS bigint) AS rows_rejected,
       CAST(coalesce(sum(rows_duplicate), 0) AS bigint) AS rows_duplicate,
       CAST(coalesce(sum(CASE WHEN state <> 'failed' THEN size_bytes END), 0) AS bigint) AS bytes,
       CAST(coalesce(sum(CASE WHEN attempts > 1 THEN attempts - 1 ELSE 0 END), 0) AS bigint) AS retries
FROM ingest_file
GROUP BY kind, state
ORDER BY kind, state
