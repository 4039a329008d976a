-- maintenance reference_replay_apply (PostgreSQL) — replaces reference silver with the
-- replay's result and records the new outcomes and codes of the bronze rows that changed,
-- as SQLite's maintenance/reference_replay_apply.sql. Inside the maintenance transaction,
-- which holds silver writers back (MaintenanceDatabase.holdSilverWriters); the triggers of
-- migration 0002 log the changed ids for gold (gold_reference_change).
DELETE FROM silver_episode;
INSERT INTO silver_episode
    (episode_id, podcast_id, title, release_date, duration_seconds, file_id, line_no,
     order_mtime_ns, order_name)
SELECT episode_id, podcast_id, title, release_date, duration_seconds, file_id, line_no,
       order_mtime_ns, order_name
FROM replay_episode;
DELETE FROM silver_user;
INSERT INTO silver_user (user_id, signup_date, country, file_id, line_no, order_mtime_ns, order_name)
SELECT user_id, signup_date, country, file_id, line_no, order_mtime_ns, order_name
FROM replay_user;
UPDATE bronze_reference
SET outcome = c.outcome, error_codes = c.error_codes
FROM replay_reference_bronze AS c
WHERE bronze_reference.bronze_id = c.bronze_id;
