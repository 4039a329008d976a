-- PostgreSQL migration 0003: what `podpipectl status` shows of every host.
-- Shipped migrations are never edited: change the schema with a new numbered file.
--
-- daemon_state.files_waiting: the files in the host's drop folder that the ledger has not
-- settled, as the host's daemon counted them at the end of its last pass (NULL: not
-- recorded yet). Status cannot list another host's folder, so each host records its own
-- (StatusReport.recordWaiting); `status` shows every host's (SQL/postgres/status/hosts.sql).
ALTER TABLE daemon_state ADD COLUMN files_waiting bigint;
