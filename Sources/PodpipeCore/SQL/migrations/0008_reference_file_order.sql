-- 0008 reference_file_order — which reference row wins per id follows file order, not load
-- order (issue 14). A reference row's place is the place of its file's bytes in the drop
-- folder's order (oldest first: modification time, then name in byte order) — the newest
-- delivery of those bytes — then its line number; the row with the latest place wins
-- (`ReferenceOrder` in Ingest/ReferenceOrder.swift states the rule once).
--
-- silver_episode / silver_user keep the place of the row that set them, so that a later
-- load compares with it in its upsert instead of overwriting:
--   order_mtime_ns  modification time (ns since the epoch) of the newest delivery of the
--                   row's file bytes
--   order_name      that delivery's file name (compared in byte order, SQLite's BINARY)
--   (line_no, already there, is the third part of the place)
-- Rows loaded before this migration get their own file's time and name from the ledger: the
-- values they hold were decided by load order; `podpipectl revalidate` decides them again
-- by file order.
ALTER TABLE silver_episode ADD COLUMN order_mtime_ns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE silver_episode ADD COLUMN order_name TEXT NOT NULL DEFAULT '';
ALTER TABLE silver_user ADD COLUMN order_mtime_ns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE silver_user ADD COLUMN order_name TEXT NOT NULL DEFAULT '';
UPDATE silver_episode
SET order_mtime_ns = f.mtime_ns, order_name = f.name
FROM ingest_file AS f WHERE f.file_id = silver_episode.file_id;
UPDATE silver_user
SET order_mtime_ns = f.mtime_ns, order_name = f.name
FROM ingest_file AS f WHERE f.file_id = silver_user.file_id;

-- ingest_file.delivered_mtime_ns: for a file whose bytes were seen again under its own name
-- with another modification time (recorded as the same file, `unchanged`: mtime_ns then
-- follows the file for settling), the newest modification time they were seen with. A
-- delivery never moves a file's rows back in the order: a copy with an older time is an
-- older delivery. NULL: mtime_ns.
ALTER TABLE ingest_file ADD COLUMN delivered_mtime_ns INTEGER;
