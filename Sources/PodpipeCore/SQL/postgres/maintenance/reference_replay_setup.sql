-- maintenance reference_replay_setup (PostgreSQL) — `podpipectl revalidate` and `reprocess`:
-- the scratch tables of a reference replay, as SQLite's maintenance/reference_replay_setup.sql
-- (the same grain and meaning). Temporary, private to the command's session and dropped at
-- the end of its transaction (commit or rollback); text collates "C" like silver's, so the
-- reference order (ReferenceOrder) compares names in byte order as on SQLite.
DROP TABLE IF EXISTS pg_temp.replay_episode;
DROP TABLE IF EXISTS pg_temp.replay_user;
DROP TABLE IF EXISTS pg_temp.replay_reference_bronze;
CREATE TEMP TABLE replay_episode (
    episode_id       text COLLATE "C" PRIMARY KEY,
    podcast_id       text COLLATE "C" NOT NULL,
    title            text COLLATE "C" NOT NULL,
    release_date     text COLLATE "C" NOT NULL,
    duration_seconds bigint NOT NULL,
    file_id          bigint NOT NULL,
    line_no          bigint NOT NULL,
    order_mtime_ns   bigint NOT NULL,
    order_name       text COLLATE "C" NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE replay_user (
    user_id        text COLLATE "C" PRIMARY KEY,
    signup_date    text COLLATE "C" NOT NULL,
    country        text COLLATE "C" NOT NULL,
    file_id        bigint NOT NULL,
    line_no        bigint NOT NULL,
    order_mtime_ns bigint NOT NULL,
    order_name     text COLLATE "C" NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE replay_reference_bronze (
    bronze_id   bigint PRIMARY KEY,
    outcome     text COLLATE "C" NOT NULL,
    error_codes text COLLATE "C"
) ON COMMIT DROP;
