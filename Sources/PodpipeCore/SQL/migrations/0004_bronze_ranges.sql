-- Migration 0004: an event file's bronze rows are found by their rowid range, recorded in
-- the ledger, instead of the index bronze_event_file.
-- Shipped migrations are never edited: change the schema with a new numbered file.
--
-- One writer loads one file per transaction and inserts its lines in line order, so the
-- bronze rows of a file get consecutive bronze_id values (SQLite gives a new row max + 1):
-- the range (bronze_first_id, bronze_last_id) holds that file's rows and no other's, in line
-- order. Maintaining the (file_id, line_no) index cost ~0.7 s of the ~9.5 s a fresh load of
-- 1M events takes (doc/performance.md); queries by file (reprocess, revalidate) now read the
-- range. NULL: the file has no bronze_event rows (reference files, duplicates, failures,
-- files rejected before or while their rows were read).
ALTER TABLE ingest_file ADD COLUMN bronze_first_id INTEGER;
ALTER TABLE ingest_file ADD COLUMN bronze_last_id INTEGER;

-- The ranges of the files already loaded, through the index one last time.
UPDATE ingest_file
SET bronze_first_id = (SELECT min(b.bronze_id) FROM bronze_event AS b WHERE b.file_id = ingest_file.file_id),
    bronze_last_id  = (SELECT max(b.bronze_id) FROM bronze_event AS b WHERE b.file_id = ingest_file.file_id)
WHERE kind = 'events';

DROP INDEX bronze_event_file;
