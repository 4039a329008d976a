-- maintenance reprocess_setup (PostgreSQL) — `podpipectl reprocess`: the list of ledger rows
-- to forget (grain: one file_id), as SQLite's maintenance/reprocess_setup.sql. Temporary,
-- private to the command's session, dropped at the end of its transaction.
DROP TABLE IF EXISTS pg_temp.reprocess_file;
CREATE TEMP TABLE reprocess_file (file_id bigint PRIMARY KEY) ON COMMIT DROP;
