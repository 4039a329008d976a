-- Migration 0001: the processed-file ledger, bronze and silver.
-- Shipped migrations are never edited: change the schema with a new numbered file.

-- The processed-file ledger (SPEC §3). One row per distinct file version seen.
-- Grain: one file's bytes (identified by SHA-256) under one name.
CREATE TABLE ingest_file (
    file_id          INTEGER PRIMARY KEY,
    name             TEXT    NOT NULL,            -- path relative to the drop folder
    kind             TEXT    NOT NULL CHECK (kind IN ('events', 'episodes', 'users')),
    sha256           TEXT    NOT NULL,            -- hex SHA-256 of the file's bytes: its identity
    size_bytes       INTEGER NOT NULL,
    mtime            TEXT    NOT NULL,            -- modification time, ISO 8601 UTC
    mtime_ns         INTEGER NOT NULL,            -- modification time, ns since the epoch (change detection)
    state            TEXT    NOT NULL CHECK (state IN ('loaded', 'rejected', 'duplicate', 'failed')),
    duplicate_of     INTEGER REFERENCES ingest_file (file_id),
    previous_version INTEGER REFERENCES ingest_file (file_id), -- same name, other bytes
    rows_read        INTEGER NOT NULL DEFAULT 0,  -- bronze rows (non-blank lines / CSV records)
    rows_loaded      INTEGER NOT NULL DEFAULT 0,  -- rows that reached silver
    rows_rejected    INTEGER NOT NULL DEFAULT 0,
    rows_duplicate   INTEGER NOT NULL DEFAULT 0,
    first_error      TEXT,                        -- first row error codes, or the file's reason
    first_error_line INTEGER,
    message          TEXT,                        -- human-readable reason / warning
    attempts         INTEGER NOT NULL DEFAULT 1,
    next_attempt_at  TEXT,                        -- failed files: not retried before this time
    started_at       TEXT    NOT NULL,
    finished_at      TEXT    NOT NULL,
    duration_ms      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ingest_file_sha256 ON ingest_file (sha256);
CREATE INDEX ingest_file_name ON ingest_file (name);
CREATE INDEX ingest_file_state ON ingest_file (state, finished_at);

-- Bronze: every non-blank line of every event file, as received.
-- Grain: one physical line. outcome: 'silver' (loaded), 'rejected' (error_codes says why),
-- 'duplicate' (valid, but its natural key was already in silver).
CREATE TABLE bronze_event (
    bronze_id   INTEGER PRIMARY KEY,
    file_id     INTEGER NOT NULL REFERENCES ingest_file (file_id),
    line_no     INTEGER NOT NULL,                 -- 1-based physical line number
    raw         TEXT    NOT NULL,                 -- the line as received (BOM and CR dropped)
    -- (CHECKs are written with OR: SQLite 3.40 builds an ephemeral table for every row
    -- checked against an IN list of three or more values, a third of the insert cost.)
    outcome     TEXT    NOT NULL
                CHECK (outcome = 'silver' OR outcome = 'rejected' OR outcome = 'duplicate'),
    error_codes TEXT                              -- comma-separated codes, NULL when valid
);
CREATE INDEX bronze_event_file ON bronze_event (file_id, line_no);
CREATE INDEX bronze_event_not_loaded ON bronze_event (outcome, file_id) WHERE outcome <> 'silver';

-- Bronze for reference CSV files. Grain: one CSV record.
CREATE TABLE bronze_reference (
    bronze_id   INTEGER PRIMARY KEY,
    file_id     INTEGER NOT NULL REFERENCES ingest_file (file_id),
    line_no     INTEGER NOT NULL,                 -- line where the record starts
    kind        TEXT    NOT NULL CHECK (kind = 'episodes' OR kind = 'users'),
    raw         TEXT    NOT NULL,                 -- the record as a JSON object {column: value}
    outcome     TEXT    NOT NULL CHECK (outcome = 'silver' OR outcome = 'rejected'),
    error_codes TEXT
);
CREATE INDEX bronze_reference_file ON bronze_reference (file_id, line_no);

-- Silver: valid events, typed and de-duplicated on the natural key.
-- Grain: one distinct (ts, user_id, episode_id, event_type).
-- event_id is the stable interaction id. ts is Unix seconds UTC (fraction truncated).
-- The natural-key index leads with ts so that inserts are mostly appends.
CREATE TABLE silver_event (
    event_id   INTEGER PRIMARY KEY,
    ts         INTEGER NOT NULL,
    user_id    TEXT    NOT NULL,
    episode_id TEXT    NOT NULL,
    event_type TEXT    NOT NULL CHECK (event_type = 'play' OR event_type = 'pause'
                                       OR event_type = 'seek' OR event_type = 'complete'),
    duration   INTEGER,                           -- seconds; play/complete only
    file_id    INTEGER NOT NULL,
    line_no    INTEGER NOT NULL
);
CREATE UNIQUE INDEX silver_event_natural_key ON silver_event (ts, user_id, episode_id, event_type);

-- Silver reference data, upserted by id; the latest file (processing order) wins.
CREATE TABLE silver_episode (
    episode_id       TEXT    PRIMARY KEY,
    podcast_id       TEXT    NOT NULL,
    title            TEXT    NOT NULL,
    release_date     TEXT    NOT NULL,            -- YYYY-MM-DD
    duration_seconds INTEGER NOT NULL CHECK (duration_seconds > 0),
    file_id          INTEGER NOT NULL,
    line_no          INTEGER NOT NULL
);

CREATE TABLE silver_user (
    user_id     TEXT PRIMARY KEY,
    signup_date TEXT NOT NULL,                    -- YYYY-MM-DD
    country     TEXT NOT NULL,
    file_id     INTEGER NOT NULL,
    line_no     INTEGER NOT NULL
);

-- Change counters that drive gold refresh and status: one row per name.
CREATE TABLE pipeline_state (
    key   TEXT PRIMARY KEY,
    value TEXT
);
