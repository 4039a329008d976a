-- inspect files — `podpipectl files` on PostgreSQL: the processed-file ledger
-- (ingest_file), newest first; SQL/inspect/files.sql in PostgreSQL's dialect.
-- Grain: one ledger row = one file version (its bytes, by SHA-256) under one name.
-- Columns: the ledger's own names, so that a script reading --format csv/json can use the
-- data model (doc/data-model.md) as its reference. rows_read = rows_loaded +
-- rows_rejected + rows_duplicate for every row.
-- Parameters (NULL = no filter), by position:
--   $1  state: loaded | rejected | duplicate | failed
--   $2  kind: events | episodes | users
--   $3  exact file name
--   $4  since: ISO 8601 UTC text (2024-04-21T00:00:00Z): rows that finished at or after it
--   $5  the most rows to return (-1 = all)
-- Differs from SQLite's: every host's and drop folder's rows (the warehouse's ledger; the
-- host and data_load columns are not shown, as SQLite's ledger has none); typed parameters;
-- LIMIT NULL for all. The text columns are COLLATE "C", so finished_at compares and sorts
-- in byte order as in SQLite.
SELECT file_id, name, kind, state,
       rows_read, rows_loaded, rows_rejected, rows_duplicate,
       first_error, first_error_line,
       started_at, finished_at, duration_ms,
       size_bytes, sha256, attempts, next_attempt_at, duplicate_of, previous_version, message
FROM ingest_file
WHERE ($1::text IS NULL OR state = $1::text)
  AND ($2::text IS NULL OR kind = $2::text)
  AND ($3::text IS NULL OR name = $3::text)
  AND ($4::text IS NULL OR finished_at >= $4::text)
ORDER BY finished_at DESC, file_id DESC
LIMIT NULLIF($5::bigint, -1)
