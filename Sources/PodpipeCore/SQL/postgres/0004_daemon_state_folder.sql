-- PostgreSQL migration 0004: the daemons' rows per (host, drop folder).
-- Shipped migrations are never edited: change the schema with a new numbered file.
--
-- A host may run several podpiped, one per drop folder (the writer's advisory lock is per
-- (host, folder)): keyed by the host alone, their daemon_state and daemon_waiting rows
-- overwrote each other. Both tables are now keyed by (host, data_load), the ledger's scope
-- of names (ingest_file.host, data_load).
-- daemon_state — grain: one (host, drop folder), the last daemon that ran there; written
-- only by that daemon. daemon_waiting — grain: one (host, drop folder): the files waiting
-- in that folder as its daemon last counted them. Rows recorded before this migration
-- keep their host; daemon_waiting's take the folder of their host's daemon_state row.
ALTER TABLE daemon_state DROP CONSTRAINT daemon_state_pkey;
ALTER TABLE daemon_state ADD PRIMARY KEY (host, data_load);

ALTER TABLE daemon_waiting ADD COLUMN data_load text COLLATE "C" NOT NULL DEFAULT '';
UPDATE daemon_waiting AS w SET data_load = d.data_load FROM daemon_state AS d WHERE d.host = w.host;
ALTER TABLE daemon_waiting ALTER COLUMN data_load DROP DEFAULT;
ALTER TABLE daemon_waiting DROP CONSTRAINT daemon_waiting_pkey;
ALTER TABLE daemon_waiting ADD PRIMARY KEY (host, data_load);
