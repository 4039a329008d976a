-- maintenance reference_replay_apply — replaces reference silver with the replay's result
-- and records the new outcomes and codes of the bronze rows that changed. Runs inside the
-- maintenance transaction (readers see the old or the new silver, never a mix); reference
-- tables are small, so they are rewritten whole.
DELETE FROM silver_episode;
INSERT INTO silver_episode
    (episode_id, podcast_id, title, release_date, duration_seconds, file_id, line_no,
     order_mtime_ns, order_name)
SELECT episode_id, podcast_id, title, release_date, duration_seconds, file_id, line_no,
       order_mtime_ns, order_name
FROM temp.replay_episode;
DELETE FROM silver_user;
INSERT INTO silver_user (user_id, signup_date, country, file_id, line_no, order_mtime_ns, order_name)
SELECT user_id, signup_date, country, file_id, line_no, order_mtime_ns, order_name
FROM temp.replay_user;
UPDATE bronze_reference
SET outcome = c.outcome, error_codes = c.error_codes
FROM temp.replay_reference_bronze AS c
WHERE bronze_reference.bronze_id = c.bronze_id;
