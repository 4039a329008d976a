-- inspect rejects — `podpipectl rejects`: rejected bronze rows, with where they came from,
-- their validation codes and the raw values as received.
-- Grain: one rejected row (an event line of bronze_event, or a CSV record of
-- bronze_reference). Order: newest file first (file_id descending), then line.
-- raw: events, the line as received; reference rows, the CSV record as received (rows
-- loaded before migration 0006: the record as a JSON object {"column": "value"}).
-- Parameters (NULL = no filter), first named in this order: the read seam (QueryRunner)
-- binds them by position.
--   :file   exact file name (every version of that name)
--   :code   one validation code; matches rows that carry it among others
--   :limit  the most rows to return (-1 = all)
SELECT file_id, file, kind, line, codes, raw FROM (
    SELECT b.file_id, f.name AS file, 'events' AS kind, b.line_no AS line,
           b.error_codes AS codes, b.raw
    FROM bronze_event AS b
    JOIN ingest_file AS f ON f.file_id = b.file_id
    -- `<> 'silver'` repeats the partial index's condition (bronze_event_not_loaded):
    -- SQLite does not infer it from `= 'rejected'` and would scan bronze.
    WHERE b.outcome = 'rejected' AND b.outcome <> 'silver'
      AND (:file IS NULL OR f.name = :file)
      AND (:code IS NULL OR instr(',' || b.error_codes || ',', ',' || :code || ',') > 0)
    UNION ALL
    SELECT r.file_id, f.name, r.kind, r.line_no, r.error_codes, r.raw
    FROM bronze_reference AS r
    JOIN ingest_file AS f ON f.file_id = r.file_id
    WHERE r.outcome = 'rejected'
      AND (:file IS NULL OR f.name = :file)
      AND (:code IS NULL OR instr(',' || r.error_codes || ',', ',' || :code || ',') > 0)
)
ORDER BY file_id DESC, line
LIMIT :limit
