-- inspect rejects — `podpipectl rejects` on PostgreSQL: rejected bronze rows, with where
-- they came from, their validation codes and the raw values as received;
-- SQL/inspect/rejects.sql in PostgreSQL's dialect.
-- Grain: one rejected row (an event line of bronze_event, or a CSV record of
-- bronze_reference). Order: newest file first (file_id descending), then line.
-- raw: events, the line as received; reference rows, the CSV record as received.
-- Parameters (NULL = no filter), by position:
--   $1  exact file name (every version of that name, of every host)
--   $2  one validation code; matches rows that carry it among others
--   $3  the most rows to return (-1 = all)
-- Differs from SQLite's: strpos for instr, typed parameters, LIMIT NULL for all.
SELECT file_id, file, kind, line, codes, raw FROM (
    SELECT b.file_id, f.name AS file, 'events'::text COLLATE "C" AS kind, b.line_no AS line,
           b.error_codes AS codes, b.raw
    FROM bronze_event AS b
    JOIN ingest_file AS f ON f.file_id = b.file_id
    -- `<> 'silver'`: the partial index bronze_event_not_loaded's condition.
    WHERE b.outcome = 'rejected' AND b.outcome <> 'silver'
      AND ($1::text IS NULL OR f.name = $1::text)
      AND ($2::text IS NULL OR strpos(',' || b.error_codes || ',', ',' || $2::text || ',') > 0)
    UNION ALL
    SELECT r.file_id, f.name, r.kind, r.line_no, r.error_codes, r.raw
    FROM bronze_reference AS r
    JOIN ingest_file AS f ON f.file_id = r.file_id
    WHERE r.outcome = 'rejected'
      AND ($1::text IS NULL OR f.name = $1::text)
      AND ($2::text IS NULL OR strpos(',' || r.error_codes || ',', ',' || $2::text || ',') > 0)
) AS rejected
ORDER BY file_id DESC, line
LIMIT NULLIF($3::bigint, -1)
