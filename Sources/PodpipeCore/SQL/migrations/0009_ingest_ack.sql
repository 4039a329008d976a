-- Migration 0009: acknowledgements of rejected and failed files (`podpipectl ack`).
-- Shipped migrations are never edited: change the schema with a new numbered file.

-- Grain: one acknowledged ledger row (a file version that was `rejected` or `failed`).
-- An operator who has dealt with such a file acknowledges it, and `podpipectl status`
-- stops counting it as a problem; the ledger row itself is not touched.
--
-- An acknowledgement holds for exactly the version it was given for: it matches a ledger
-- row only while file_id, state, size_bytes, mtime_ns and started_at are all the same.
-- A new version of the name is a new ledger row (another file_id); a `failed` row is
-- updated in place at each retry, and keeps its acknowledgement while the file is the
-- same (size, modification time) but not once its bytes changed; a failed file retried
-- and then rejected has another state; a row that `reprocess` forgot and whose file_id
-- SQLite hands out again has another started_at. Acknowledgements of rows that no longer
-- match are kept (they are history) and never count.
--
-- Written only by `podpipectl ack` (never by the ingest), read by `status` and the
-- metrics. No foreign key: the store runs with foreign_keys off, and `reprocess` deletes
-- ledger rows without knowing of this table.
CREATE TABLE ingest_ack (
    file_id         INTEGER PRIMARY KEY,          -- the ledger row (ingest_file.file_id)
    name            TEXT    NOT NULL,             -- its name, for reading the table alone
    state           TEXT    NOT NULL CHECK (state IN ('rejected', 'failed')),
    size_bytes      INTEGER NOT NULL,
    mtime_ns        INTEGER NOT NULL,
    started_at      TEXT    NOT NULL,
    acknowledged_at TEXT    NOT NULL              -- ISO 8601 UTC
);
