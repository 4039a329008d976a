-- maintenance reference_replay_setup — `podpipectl revalidate` and `reprocess`: the
-- scratch tables of a reference replay (TEMP: private to the writer's connection).
-- A replay re-applies the current reference rules to every bronze_reference row of the
-- files recorded `loaded`, upserting into replay_episode / replay_user exactly as the loader
-- upserts into silver: per id, the row with the latest place in the file order wins
-- (modification time of the newest delivery of its file's bytes, then name, then line;
-- ReferenceOrder.swift). replay_reference_bronze holds the bronze rows whose outcome or
-- codes change.
DROP TABLE IF EXISTS temp.replay_episode;
DROP TABLE IF EXISTS temp.replay_user;
DROP TABLE IF EXISTS temp.replay_reference_bronze;
CREATE TEMP TABLE replay_episode (
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
CREATE TEMP TABLE replay_user (
    user_id     TEXT PRIMARY KEY,
    signup_date TEXT NOT NULL,
    country     TEXT NOT NULL,
    file_id     INTEGER NOT NULL,
    line_no     INTEGER NOT NULL,
    order_mtime_ns INTEGER NOT NULL,
    order_name  TEXT    NOT NULL
);
CREATE TEMP TABLE replay_reference_bronze (
    bronze_id   INTEGER PRIMARY KEY,
    outcome     TEXT NOT NULL,
    error_codes TEXT
);
