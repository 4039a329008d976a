-- Migration 0013: retention of bronze (`podpipectl prune --bronze-before DATE`).
-- Shipped migrations are never edited: change the schema with a new numbered file.
--
-- Prune deletes the bronze_event rows of an event file's valid lines (outcome `silver` or
-- `duplicate`); its rejected rows, its silver rows, gold and the ledger row stay.
-- bronze_pruned_at: when prune first deleted rows of the file (set in the transaction of its
-- first batch, so a prune stopped half-way still marks the file). NULL: bronze holds every
-- line of the file. `revalidate` keeps the silver rows of such a file as they are (their
-- lines are gone), and validates its rejected rows again.
ALTER TABLE ingest_file ADD COLUMN bronze_pruned_at TEXT;
