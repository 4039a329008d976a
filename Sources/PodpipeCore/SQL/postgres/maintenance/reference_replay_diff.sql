-- maintenance reference_replay_diff (PostgreSQL) — what a reference replay changes in
-- silver, as SQLite's maintenance/reference_replay_diff.sql.
-- Grain: one row per kind ('episodes', 'users') with
--   added     ids the replay has and silver has not
--   removed   ids silver has and the replay has not
--   changed   ids in both whose values differ
--   moved     ids in both with the same values, set by another file or line, or now at
--             another place in the file order (order_mtime_ns, order_name)
--   bronze    bronze_reference rows of that kind whose outcome or codes change
SELECT 'episodes' AS kind,
    (SELECT count(*) FROM replay_episode AS r
     WHERE NOT EXISTS (SELECT 1 FROM silver_episode AS s WHERE s.episode_id = r.episode_id)) AS added,
    (SELECT count(*) FROM silver_episode AS s
     WHERE NOT EXISTS (SELECT 1 FROM replay_episode AS r WHERE r.episode_id = s.episode_id)) AS removed,
    (SELECT count(*) FROM silver_episode AS s JOIN replay_episode AS r USING (episode_id)
     WHERE s.podcast_id <> r.podcast_id OR s.title <> r.title OR s.release_date <> r.release_date
        OR s.duration_seconds <> r.duration_seconds) AS changed,
    (SELECT count(*) FROM silver_episode AS s JOIN replay_episode AS r USING (episode_id)
     WHERE s.podcast_id = r.podcast_id AND s.title = r.title AND s.release_date = r.release_date
       AND s.duration_seconds = r.duration_seconds
       AND (s.file_id <> r.file_id OR s.line_no <> r.line_no
            OR s.order_mtime_ns <> r.order_mtime_ns OR s.order_name <> r.order_name)) AS moved,
    (SELECT count(*) FROM replay_reference_bronze AS c
     JOIN bronze_reference AS b USING (bronze_id) WHERE b.kind = 'episodes') AS bronze
UNION ALL
SELECT 'users',
    (SELECT count(*) FROM replay_user AS r
     WHERE NOT EXISTS (SELECT 1 FROM silver_user AS s WHERE s.user_id = r.user_id)),
    (SELECT count(*) FROM silver_user AS s
     WHERE NOT EXISTS (SELECT 1 FROM replay_user AS r WHERE r.user_id = s.user_id)),
    (SELECT count(*) FROM silver_user AS s JOIN replay_user AS r USING (user_id)
     WHERE s.signup_date <> r.signup_date OR s.country <> r.country),
    (SELECT count(*) FROM silver_user AS s JOIN replay_user AS r USING (user_id)
     WHERE s.signup_date = r.signup_date AND s.country = r.country
       AND (s.file_id <> r.file_id OR s.line_no <> r.line_no
            OR s.order_mtime_ns <> r.order_mtime_ns OR s.order_name <> r.order_name)),
    (SELECT count(*) FROM replay_reference_bronze AS c
     JOIN bronze_reference AS b USING (bronze_id) WHERE b.kind = 'users')
