-- inspect rejects_by_file — `podpipectl rejects --summary`, second table.
-- Grain: one ledger row (file version) with at least one rejected row matching the
-- filters. rows_read is the file's bronze rows; reject_rate = rejected / rows_read.
-- Order: newest file first.
-- Parameters: :file, :code as in rejects.sql (NULL = no filter), first named in that
-- order: the read seam (QueryRunner) binds them by position.
WITH rejected (file_id, n) AS (
    SELECT b.file_id, count(*)
    FROM bronze_event AS b
    -- `<> 'silver'`: the partial index's condition, as in rejects.sql (no scan of bronze).
    WHERE b.outcome = 'rejected' AND b.outcome <> 'silver'
      AND (:file IS NULL OR b.file_id IN (SELECT file_id FROM ingest_file WHERE name = :file))
      AND (:code IS NULL OR instr(',' || b.error_codes || ',', ',' || :code || ',') > 0)
    GROUP BY b.file_id
    UNION ALL
    SELECT r.file_id, count(*)
    FROM bronze_reference AS r
    WHERE r.outcome = 'rejected'
      AND (:file IS NULL OR r.file_id IN (SELECT file_id FROM ingest_file WHERE name = :file))
      AND (:code IS NULL OR instr(',' || r.error_codes || ',', ',' || :code || ',') > 0)
    GROUP BY r.file_id
)
SELECT f.file_id, f.name AS file, f.kind, f.state, f.rows_read, sum(rejected.n) AS rejected,
       CAST(sum(rejected.n) AS REAL) / max(f.rows_read, 1) AS reject_rate
FROM rejected
JOIN ingest_file AS f ON f.file_id = rejected.file_id
GROUP BY f.file_id
ORDER BY f.file_id DESC
