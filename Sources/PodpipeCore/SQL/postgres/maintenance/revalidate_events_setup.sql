-- maintenance revalidate_events_setup (PostgreSQL) — `podpipectl revalidate`: the scratch
-- tables of an event revalidation, as SQLite's maintenance/revalidate_events_setup.sql (the
-- same grain and meaning), temporary and dropped at the end of the command's transaction.
-- revalidated_event: the silver events the current rules give, first row of a natural key
--   winning (INSERT … ON CONFLICT DO NOTHING in load order).
-- revalidated_bronze: the bronze rows whose outcome or codes change.
-- revalidate_stage: one window of a file's valid rows, copied in (COPY) before they go into
--   revalidated_event in line order (Revalidator.scanEvents).
-- pruned_silver: the silver rows of the files pruned from bronze, kept as they are.
DROP TABLE IF EXISTS pg_temp.revalidated_event;
DROP TABLE IF EXISTS pg_temp.revalidated_bronze;
DROP TABLE IF EXISTS pg_temp.revalidate_stage;
DROP TABLE IF EXISTS pg_temp.pruned_silver;
CREATE TEMP TABLE revalidated_event (
    ts         bigint NOT NULL,
    user_id    text COLLATE "C" NOT NULL,
    episode_id text COLLATE "C" NOT NULL,
    event_type text COLLATE "C" NOT NULL,
    duration   bigint,
    file_id    bigint NOT NULL,
    line_no    bigint NOT NULL
) ON COMMIT DROP;
CREATE UNIQUE INDEX revalidated_event_key ON revalidated_event (ts, user_id, episode_id, event_type);
CREATE TEMP TABLE revalidated_bronze (
    bronze_id   bigint PRIMARY KEY,
    outcome     text COLLATE "C" NOT NULL,
    error_codes text COLLATE "C"
) ON COMMIT DROP;
-- The stage has revalidated_event's columns (types, collations, NOT NULL), not its index.
CREATE TEMP TABLE revalidate_stage (LIKE revalidated_event) ON COMMIT DROP;
CREATE TEMP TABLE pruned_silver ON COMMIT DROP AS
    SELECT ts, user_id, episode_id, event_type, duration, file_id, line_no
    FROM silver_event
    WHERE file_id IN (
        SELECT file_id FROM ingest_file
        WHERE bronze_pruned_at IS NOT NULL AND state = 'loaded' AND kind = 'events');
CREATE INDEX pruned_silver_file ON pruned_silver (file_id, line_no);
