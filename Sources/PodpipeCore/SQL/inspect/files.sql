-- inspect files — `podpipectl files`: the processed-file ledger (ingest_file), newest first.
-- Grain: one ledger row = one file version (its bytes, by SHA-256) under one name.
-- Columns: the ledger's own names, so that a script reading --format csv/json can use the
-- data model (doc/data-model.md) as its reference. rows_read = rows_loaded +
-- rows_rejected + rows_duplicate for every row.
-- Parameters (NULL = no filter), first named in this order: the read seam (QueryRunner)
-- binds them by position.
--   :state  loaded | rejected | duplicate | failed
--   :kind   events | episodes | users
--   :name   exact file name
--   :since  ISO 8601 UTC text (2024-04-21T00:00:00Z): rows that finished at or after it
--   :limit  the most rows to return (-1 = all)
SELECT file_id, name, kind, state,
       rows_read, rows_loaded, rows_rejected, rows_duplicate,
       first_error, first_error_line,
       started_at, finished_at, duration_ms,
       size_bytes, sha256, attempts, next_attempt_at, duplicate_of, previous_version, message
FROM ingest_file
WHERE (:state IS NULL OR state = :state)
  AND (:kind IS NULL OR kind = :kind)
  AND (:name IS NULL OR name = :name)
  AND (:since IS NULL OR finished_at >= :since)
ORDER BY finished_at DESC, file_id DESC
LIMIT :limit
