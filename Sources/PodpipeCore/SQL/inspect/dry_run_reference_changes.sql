-- inspect dry_run_reference_changes — `podpipectl validate`: what a reference file would
-- do to silver. Grain: one row with two counts, for the file's kind:
--   added   ids the file would create (not yet in the database's silver)
--   changed ids already in silver whose values the file would change: where its row's
--             place in the file order is not before the stored row's (the latest place
--             wins; {{wins(t, m)}} is that comparison, ReferenceOrder.wins in Swift,
--             filled in when the query is loaded)
-- temp.silver_episode / temp.silver_user hold the rows the dry run's loads upserted
-- (see dry_run_shadow.sql); :file_id is the dry run's id of the file.
SELECT
    (SELECT count(*) FROM temp.silver_episode AS t
     WHERE t.file_id = :file_id
       AND NOT EXISTS (SELECT 1 FROM main.silver_episode AS m WHERE m.episode_id = t.episode_id))
  + (SELECT count(*) FROM temp.silver_user AS t
     WHERE t.file_id = :file_id
       AND NOT EXISTS (SELECT 1 FROM main.silver_user AS m WHERE m.user_id = t.user_id))
    AS added,
    (SELECT count(*) FROM temp.silver_episode AS t
     JOIN main.silver_episode AS m ON m.episode_id = t.episode_id
     WHERE t.file_id = :file_id AND {{wins(t, m)}}
       AND (m.podcast_id <> t.podcast_id OR m.title <> t.title
            OR m.release_date <> t.release_date OR m.duration_seconds <> t.duration_seconds))
  + (SELECT count(*) FROM temp.silver_user AS t
     JOIN main.silver_user AS m ON m.user_id = t.user_id
     WHERE t.file_id = :file_id AND {{wins(t, m)}}
       AND (m.signup_date <> t.signup_date OR m.country <> t.country))
    AS changed
