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
-- pruned_silver: the silver rows of the files pruned from bronze (`bronze_pruned_at`), kept
--   as they are (their lines are gone), carried into revalidated_event file by file.
DROP TABLE IF EXISTS temp.pruned_silver;
CREATE TEMP TABLE pruned_silver AS
    SELECT ts, user_id, episode_id, event_type, duration, file_id, line_no
    FROM silver_event
    WHERE file_id IN (
        SELECT file_id FROM ingest_file
        WHERE bronze_pruned_at IS NOT NULL AND state = 'loaded' AND kind = 'events');
CREATE INDEX temp.pruned_silver_file ON pruned_silver (file_id, line_no);
