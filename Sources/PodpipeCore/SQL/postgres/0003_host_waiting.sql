-- PostgreSQL migration 0003: what `podpipectl status` shows of every host.
-- Shipped migrations are never edited: change the schema with a new numbered file.
--
-- daemon_waiting — grain: one host. files_waiting: the files in the host's drop folder that
-- the ledger has not settled, as the host's daemon counted them at its latest folder
-- listing (recorded_at, ISO 8601 UTC) when the count changed. `status` cannot list another
-- host's folder, so each host records its own (IngestWriter.recordWaiting) and `status`
-- shows every host's (SQL/postgres/status/hosts.sql). Beside daemon_state rather than in it:
-- daemon_state keeps SQLite's columns.
CREATE TABLE daemon_waiting (
    host          text COLLATE "C" PRIMARY KEY,
    files_waiting bigint NOT NULL,
    recorded_at   text COLLATE "C" NOT NULL
);
