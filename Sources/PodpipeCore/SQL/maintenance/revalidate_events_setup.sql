-- maintenance revalidate_events_setup — `podpipectl revalidate`: the scratch tables of an
-- event revalidation (TEMP: private to the writer's connection).
-- revalidated_event: the silver events the current rules give when every bronze_event row
--   of the files recorded `loaded` is validated again in processing order (file_id, then
--   line) — the first row with a natural key wins, like the loader's INSERT OR IGNORE.
-- revalidated_bronze: the bronze rows whose outcome or codes change.
DROP TABLE IF EXISTS temp.revalidated_event;
DROP TABLE IF EXISTS temp.revalidated_bronze;
CREATE TEMP TABLE revalidated_event (
    ts         INTEGER NOT NULL,
    user_id    TEXT    NOT NULL,
    episode_id TEXT    NOT NULL,
    event_type TEXT    NOT NULL,
    duration   INTEGER,
    file_id    INTEGER NOT NULL,
    line_no    INTEGER NOT NULL
);
CREATE UNIQUE INDEX temp.revalidated_event_key
    ON revalidated_event (ts, user_id, episode_id, event_type);
CREATE TEMP TABLE revalidated_bronze (
    bronze_id   INTEGER PRIMARY KEY,
    outcome     TEXT NOT NULL,
    error_codes TEXT
);
