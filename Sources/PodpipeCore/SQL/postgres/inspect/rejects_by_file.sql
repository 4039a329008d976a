-- inspect rejects_by_file — `podpipectl rejects --summary` on PostgreSQL, second table;
-- SQL/inspect/rejects_by_file.sql in PostgreSQL's dialect.
-- Grain: one ledger row (file version) with at least one rejected row matching the
-- filters. rows_read is the file's bronze rows; reject_rate = rejected / rows_read.
-- Order: newest file first.
-- Parameters: $1 = the file name, $2 = the code, as in rejects.sql (NULL = no filter).
-- Differs from SQLite's: strpos for instr, greatest for max, a bigint sum (PostgreSQL's
-- sum of bigint is numeric) and a double precision rate.
WITH rejected (file_id, n) AS (
    SELECT b.file_id, count(*)
    FROM bronze_event AS b
    -- `<> 'silver'`: the partial index bronze_event_not_loaded's condition.
    WHERE b.outcome = 'rejected' AND b.outcome <> 'silver'
      AND ($1::text IS NULL OR b.file_id IN (SELECT file_id FROM ingest_file WHERE name = $1::text))
      AND ($2::text IS NULL OR strpos(',' || b.error_codes || ',', ',' || $2::text || ',') > 0)
    GROUP BY b.file_id
    UNION ALL
    SELECT r.file_id, count(*)
    FROM bronze_reference AS r
    WHERE r.outcome = 'rejected'
      AND ($1::text IS NULL OR r.file_id IN (SELECT file_id FROM ingest_file WHERE name = $1::text))
      AND ($2::text IS NULL OR strpos(',' || r.error_codes || ',', ',' || $2::text || ',') > 0)
    GROUP BY r.file_id
)
SELECT f.file_id, f.name AS file, f.kind, f.state, f.rows_read, sum(rejected.n)::bigint AS rejected,
       sum(rejected.n)::double precision / greatest(f.rows_read, 1) AS reject_rate
FROM rejected
JOIN ingest_file AS f ON f.file_id = rejected.file_id
GROUP BY f.file_id
ORDER BY f.file_id DESC
