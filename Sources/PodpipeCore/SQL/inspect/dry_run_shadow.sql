-- inspect dry_run_shadow — `podpipectl validate` (a dry run): empty TEMP twins of the
-- tables the real loaders write (bronze_event, bronze_reference, silver_event,
-- silver_event_key_collision, silver_episode, silver_user, pipeline_state).
-- How the dry run writes nothing: the database is opened read-only (SQLITE_OPEN_READONLY)
-- and SQLite resolves unqualified table names in the connection's TEMP schema first, so
-- the real EventFileLoader / ReferenceFileLoader run unchanged and their rows land in
-- this connection's private temporary storage, gone when it closes.
-- Duplicates: a TEMP trigger turns the insert of an event whose natural key is already in
-- the database's silver into a no-op, which the loader counts as a duplicate, exactly as
-- a real load would (Ingest/SilverInserter.swift: an ignored row with no row at its slot).
CREATE TEMP TABLE bronze_event (
    bronze_id   INTEGER PRIMARY KEY,
    file_id     INTEGER NOT NULL,
    line_no     INTEGER NOT NULL,
    raw         TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    error_codes TEXT
);
CREATE INDEX temp.dry_run_bronze_event_file ON bronze_event (file_id, outcome, line_no);

CREATE TEMP TABLE bronze_reference (
    bronze_id   INTEGER PRIMARY KEY,
    file_id     INTEGER NOT NULL,
    line_no     INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    raw         TEXT    NOT NULL,
    fields      TEXT,
    outcome     TEXT    NOT NULL,
    error_codes TEXT
);

CREATE TEMP TABLE silver_event (
    event_id   INTEGER PRIMARY KEY,
    ts         INTEGER NOT NULL,
    user_id    TEXT    NOT NULL,
    episode_id TEXT    NOT NULL,
    event_type TEXT    NOT NULL,
    duration   INTEGER,
    file_id    INTEGER NOT NULL,
    line_no    INTEGER NOT NULL,
    key_hash   INTEGER
);
CREATE UNIQUE INDEX temp.dry_run_silver_event_key ON silver_event (ts, key_hash);

CREATE TEMP TABLE silver_event_key_collision (
    ts       INTEGER NOT NULL,
    key_hash INTEGER NOT NULL,
    PRIMARY KEY (ts, key_hash)
) WITHOUT ROWID;

CREATE TEMP TABLE silver_episode (
    episode_id       TEXT    PRIMARY KEY,
    podcast_id       TEXT    NOT NULL,
    title            TEXT    NOT NULL,
    release_date     TEXT    NOT NULL,
    duration_seconds INTEGER NOT NULL,
    file_id          INTEGER NOT NULL,
    line_no          INTEGER NOT NULL,
    order_mtime_ns   INTEGER NOT NULL,
    order_name       TEXT    NOT NULL
);

CREATE TEMP TABLE silver_user (
    user_id     TEXT PRIMARY KEY,
    signup_date TEXT NOT NULL,
    country     TEXT NOT NULL,
    file_id     INTEGER NOT NULL,
    line_no     INTEGER NOT NULL,
    order_mtime_ns INTEGER NOT NULL,
    order_name  TEXT    NOT NULL
);

CREATE TEMP TABLE pipeline_state (
    key   TEXT PRIMARY KEY,
    value TEXT
);

CREATE TEMP TRIGGER dry_run_known_event BEFORE INSERT ON temp.silver_event
WHEN EXISTS (
    SELECT 1 FROM main.silver_event AS s
    WHERE s.ts = NEW.ts AND s.user_id = NEW.user_id
      AND s.episode_id = NEW.episode_id AND s.event_type = NEW.event_type
)
BEGIN
    SELECT RAISE(IGNORE);
END;
