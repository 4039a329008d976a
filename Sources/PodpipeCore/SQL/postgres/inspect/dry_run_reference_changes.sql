-- inspect dry_run_reference_changes — `podpipectl validate` on PostgreSQL: what a reference
-- file would do to silver. Grain: one row with two counts, for the file's kind (SQLite's
-- SQL/inspect/dry_run_reference_changes.sql, the same definitions):
--   added   ids the file would create (not in silver before the run)
--   changed ids already in silver whose values the file would change: where its row's
--             place in the file order is not before the stored row's ({{wins(t, m)}},
--             ReferenceOrder.wins in Swift, filled in when the query is loaded)
-- What differs: the loaders upserted into silver itself, inside the dry run's transaction,
-- so t is silver's rows that carry the file's id ($1, the dry run's id of the file), and m
-- is the copy taken before the run (dry_run_before.sql). A row of the file that loses to
-- the stored one is not in silver with the file's id: SQLite's {{wins(t, m)}} excludes it.
SELECT
    (SELECT count(*) FROM silver_episode AS t
     WHERE t.file_id = $1
       AND NOT EXISTS (SELECT 1 FROM dry_run_before_episode AS m WHERE m.episode_id = t.episode_id))
  + (SELECT count(*) FROM silver_user AS t
     WHERE t.file_id = $1
       AND NOT EXISTS (SELECT 1 FROM dry_run_before_user AS m WHERE m.user_id = t.user_id))
    AS added,
    (SELECT count(*) FROM silver_episode AS t
     JOIN dry_run_before_episode AS m ON m.episode_id = t.episode_id
     WHERE t.file_id = $1 AND {{wins(t, m)}}
       AND (m.podcast_id <> t.podcast_id OR m.title <> t.title
            OR m.release_date <> t.release_date OR m.duration_seconds <> t.duration_seconds))
  + (SELECT count(*) FROM silver_user AS t
     JOIN dry_run_before_user AS m ON m.user_id = t.user_id
     WHERE t.file_id = $1 AND {{wins(t, m)}}
       AND (m.signup_date <> t.signup_date OR m.country <> t.country))
    AS changed
