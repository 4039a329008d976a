-- inspect rejects_by_code — SQL/inspect/rejects_by_code.sql in PostgreSQL's dialect (the
-- metrics' podpipe_rejected_row_codes_total; the same grain, columns and order).
-- Grain: one (kind, code): how many rejected rows carry the code. A row with several
-- codes counts once under each, so the rows column does not add up to the rejected rows.
-- kind: events, episodes or users (missing_user_id exists for events and for users).
-- Order: most frequent first, then kind and code (byte order).
-- Parameters: $1 = the file name, $2 = the code (NULL = no filter).
-- Differs from SQLite's: strpos for instr, string_to_array for json_each, bigint sums.
WITH rejected (kind, codes) AS (
    SELECT 'events'::text COLLATE "C", b.error_codes
    FROM bronze_event AS b
    JOIN ingest_file AS f ON f.file_id = b.file_id
    -- `<> 'silver'`: the partial index bronze_event_not_loaded's condition.
    WHERE b.outcome = 'rejected' AND b.outcome <> 'silver'
      AND ($1::text IS NULL OR f.name = $1::text)
      AND ($2::text IS NULL OR strpos(',' || b.error_codes || ',', ',' || $2::text || ',') > 0)
    UNION ALL
    SELECT r.kind, r.error_codes
    FROM bronze_reference AS r
    JOIN ingest_file AS f ON f.file_id = r.file_id
    WHERE r.outcome = 'rejected'
      AND ($1::text IS NULL OR f.name = $1::text)
      AND ($2::text IS NULL OR strpos(',' || r.error_codes || ',', ',' || $2::text || ',') > 0)
),
-- One row per distinct code list first (few), then split: cheap on millions of rows.
lists (kind, codes, n) AS (
    SELECT kind, codes, count(*) FROM rejected GROUP BY kind, codes
)
SELECT lists.kind, code.value AS code, sum(lists.n)::bigint AS rows
FROM lists, unnest(string_to_array(lists.codes, ',')) AS code (value)
GROUP BY lists.kind, code.value
ORDER BY rows DESC, lists.kind COLLATE "C", code.value COLLATE "C"
