-- Migration 0003: the daemon's own state, for `podpipectl status` (SPEC §6).
-- Shipped migrations are never edited: change the schema with a new numbered file.

-- Grain: one row (id = 1), the last daemon that ran on this database. Written only by the
-- daemon holding the writer lock (`podpiped --once` leaves it alone): at start, at every
-- heartbeat (every `heartbeat_interval_s` seconds while the writer is free), after each scan
-- and gold refresh, and at stop. Times are ISO 8601 UTC.
--
-- Running = state 'running' and heartbeat_at younger than stale_after_s and (on this host)
-- the pid alive. A row left 'running' by a daemon that is gone (killed, crashed, the host
-- rebooted) is a daemon expected but not running: status exits 2. clean_stop = 1 when it
-- stopped on SIGTERM/SIGINT.
CREATE TABLE daemon_state (
    id                   INTEGER PRIMARY KEY CHECK (id = 1),
    state                TEXT    NOT NULL CHECK (state IN ('running', 'stopped')),
    pid                  INTEGER NOT NULL,
    host                 TEXT    NOT NULL,
    started_at           TEXT    NOT NULL,
    heartbeat_at         TEXT    NOT NULL,
    heartbeat_interval_s INTEGER NOT NULL,
    stale_after_s        INTEGER NOT NULL,
    watch_mode           TEXT    NOT NULL,           -- effective: inotify | poll
    data_load            TEXT    NOT NULL,           -- the folder being watched
    config_file          TEXT,
    activity             TEXT,                       -- the last STATUS= line
    last_scan_at         TEXT,                       -- last full listing of the folder
    last_refresh_at      TEXT,                       -- last gold refresh that changed gold
    last_reload_at       TEXT,                       -- last SIGHUP applied
    files_loaded         INTEGER NOT NULL DEFAULT 0, -- since started_at
    files_rejected       INTEGER NOT NULL DEFAULT 0,
    files_duplicate      INTEGER NOT NULL DEFAULT 0,
    files_failed         INTEGER NOT NULL DEFAULT 0,
    stopped_at           TEXT,
    stop_reason          TEXT,
    clean_stop           INTEGER NOT NULL DEFAULT 0
);
