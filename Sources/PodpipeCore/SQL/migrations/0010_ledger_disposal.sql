-- 0010 ledger_disposal — where a file went once its ledger entry was final (issue 16,
-- `ingest.after`). Grain: unchanged (one ledger row per file version).
-- disposal: NULL while the file is (or was last seen) in the drop folder; 'processed' or
-- 'rejected' when the after-commit stage moved it to that folder, 'deleted' when it
-- unlinked it. disposed_to: the path it was moved to (NULL for deleted). Written in a
-- small transaction of its own after the rename: the file's own transaction committed
-- (and was synced) before, so a crash in between leaves the file moved and this column
-- NULL, never a load undone. A file whose row is final and that is still in the folder is
-- "committed, not yet moved": the next pass moves it without reading it.
ALTER TABLE ingest_file ADD COLUMN disposal TEXT
    CHECK (disposal IS NULL OR disposal = 'processed' OR disposal = 'rejected' OR disposal = 'deleted');
ALTER TABLE ingest_file ADD COLUMN disposed_to TEXT;
ALTER TABLE ingest_file ADD COLUMN disposed_at TEXT;
