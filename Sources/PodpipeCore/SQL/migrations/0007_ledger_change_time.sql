-- 0007 ledger_change_time — what tells a settled file from new bytes behind the same name.
-- A file in the drop folder is settled when its newest ledger row has the same size and
-- modification time; `cp -p`, `rsync -t` and archive extraction keep the modification time
-- while writing new bytes, so size and mtime alone missed them. The status-change time
-- (ctime, which no tool can set back) and the inode are recorded too: a change of either
-- makes the file be hashed again (same bytes: settled at once; new bytes: a new version).
-- NULL on rows written before this migration: not compared (no re-hash of every file at
-- the upgrade), recorded the next time the file is settled.
ALTER TABLE ingest_file ADD COLUMN change_ns INTEGER;
ALTER TABLE ingest_file ADD COLUMN inode INTEGER;
