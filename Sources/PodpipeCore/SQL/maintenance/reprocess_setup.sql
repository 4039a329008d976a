-- maintenance reprocess_setup — `podpipectl reprocess`: the list of ledger rows to forget
-- (grain: one file_id), filled by Reprocessor.apply, read by reprocess_forget.sql. TEMP:
-- private to the writer's connection.
DROP TABLE IF EXISTS temp.reprocess_file;
CREATE TEMP TABLE reprocess_file (file_id INTEGER PRIMARY KEY);
