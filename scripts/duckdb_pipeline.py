#!/usr/bin/env python3
"""The same job as `podpiped --once`, written as a plain DuckDB script: the yardstick of
`make bench` (issue 5). Not part of the product.

Loads every NDJSON file (plain or .gz) and the users/episodes CSVs of a folder that the
database has not seen yet into bronze (raw lines), silver (the SPEC §4.1 rules as SQL,
de-duplicated on the natural key against earlier loads) and rebuilds gold: the star
schema's fact, and the three answers (top episodes of the last 7 days, listen-through by
country, multi-episode users). A file ledger keeps it incremental: a second run loads
only new files, like podpiped does.

It is deliberately a fair, straightforward DuckDB implementation: set-based SQL, DuckDB's
own multi-threaded readers, no per-row Python.
"""
import argparse
import glob
import os
import sys
import time

import duckdb

p = argparse.ArgumentParser()
p.add_argument("--db", required=True)
p.add_argument("--data", required=True)
p.add_argument("--threads", type=int, default=os.cpu_count() or 2)
args = p.parse_args()

con = duckdb.connect(args.db)
con.execute(f"SET threads = {args.threads}")
con.execute("""
CREATE TABLE IF NOT EXISTS ledger (name VARCHAR PRIMARY KEY, size BIGINT, loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS bronze_event (file VARCHAR, line_no BIGINT, raw VARCHAR, codes VARCHAR);
CREATE TABLE IF NOT EXISTS silver_event (
    ts TIMESTAMP, user_id VARCHAR, episode_id VARCHAR, event_type VARCHAR, duration BIGINT,
    file VARCHAR, line_no BIGINT);
CREATE TABLE IF NOT EXISTS silver_user (user_id VARCHAR PRIMARY KEY, signup_date DATE, country VARCHAR);
CREATE TABLE IF NOT EXISTS silver_episode (episode_id VARCHAR PRIMARY KEY, podcast_id VARCHAR,
    title VARCHAR, release_date DATE, duration_seconds BIGINT);
""")

seen = {r[0] for r in con.execute("SELECT name FROM ledger").fetchall()}
files = sorted(
    (f for f in glob.glob(os.path.join(args.data, "*")) if os.path.isfile(f)),
    key=lambda f: (os.path.getmtime(f), os.path.basename(f)))
new = [f for f in files if os.path.basename(f) not in seen]
events = [f for f in new if f.endswith((".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz"))]
users = [f for f in new if os.path.basename(f).startswith("users") and f.endswith(".csv")]
episodes = [f for f in new if os.path.basename(f).startswith("episodes") and f.endswith(".csv")]

t0 = time.time()
marks = []
def mark(what):
    marks.append(f"{what} {time.time() - t0:.2f}")
con.execute("BEGIN")
for f in users:
    con.execute(f"""
    INSERT OR REPLACE INTO silver_user
    SELECT trim(user_id), try_cast(signup_date AS DATE), trim(country)
    FROM read_csv('{f}', header = true, all_varchar = true, ignore_errors = true)
    WHERE coalesce(trim(user_id), '') <> '' AND try_cast(signup_date AS DATE) IS NOT NULL
      AND coalesce(trim(country), '') <> ''
    QUALIFY row_number() OVER (PARTITION BY trim(user_id)) = 1""")
for f in episodes:
    con.execute(f"""
    INSERT OR REPLACE INTO silver_episode
    SELECT trim(episode_id), trim(podcast_id), title, try_cast(release_date AS DATE),
           try_cast(duration_seconds AS BIGINT)
    FROM read_csv('{f}', header = true, all_varchar = true, ignore_errors = true)
    WHERE coalesce(trim(episode_id), '') <> '' AND try_cast(release_date AS DATE) IS NOT NULL
      AND try_cast(duration_seconds AS BIGINT) > 0
    QUALIFY row_number() OVER (PARTITION BY trim(episode_id)) = 1""")
if events:
    file_list = ", ".join(f"'{f}'" for f in events)
    con.execute(f"""
    CREATE TEMP TABLE raw_lines AS
    SELECT parse_filename(filename) AS file,
           row_number() OVER (PARTITION BY filename) AS line_no,
           column0 AS raw
    FROM read_csv([{file_list}], columns = {{'column0': 'VARCHAR'}}, header = false,
                  delim = '\\x01', quote = '', escape = '', filename = true,
                  ignore_errors = true, strict_mode = false, auto_detect = false)
    WHERE trim(column0) <> ''""")
    con.execute("""
    CREATE TEMP TABLE parsed AS
    WITH j AS (
        SELECT file, line_no, raw, json_valid(raw) AS ok,
               CASE WHEN json_valid(raw) THEN json(raw) END AS j FROM raw_lines),
    f AS (
        SELECT *, json_type(j) AS jt,
               json_type(j, '$.user_id') AS ut, trim(j->>'$.user_id') AS u,
               json_type(j, '$.episode_id') AS et, trim(j->>'$.episode_id') AS e,
               lower(trim(j->>'$.event_type')) AS ty, json_type(j, '$.event_type') AS tyt,
               j->>'$.timestamp' AS tss, json_type(j, '$.duration') AS dt, j->>'$.duration' AS ds
        FROM j),
    g AS (
        SELECT *, try_cast(replace(trim(tss), 'T', ' ') AS TIMESTAMPTZ) AS tsz,
               try_cast(trim(ds) AS DOUBLE) AS dv FROM f)
    SELECT file, line_no, raw, tsz, u, e, ty, dv,
      CASE WHEN NOT ok THEN 'malformed_json' WHEN jt <> 'OBJECT' THEN 'not_an_object' ELSE
      concat_ws(',',
        CASE WHEN ut IS NULL OR ut = 'NULL' THEN 'missing_user_id'
             WHEN ut = 'VARCHAR' AND u = '' THEN 'empty_user_id'
             WHEN ut NOT IN ('VARCHAR', 'BIGINT', 'UBIGINT') THEN 'invalid_user_id' END,
        CASE WHEN et IS NULL OR et = 'NULL' THEN 'missing_episode_id'
             WHEN et = 'VARCHAR' AND e = '' THEN 'empty_episode_id'
             WHEN et NOT IN ('VARCHAR', 'BIGINT', 'UBIGINT') THEN 'invalid_episode_id' END,
        CASE WHEN tyt IS NULL OR tyt = 'NULL' THEN 'missing_event_type'
             WHEN ty NOT IN ('play', 'pause', 'seek', 'complete') THEN 'invalid_event_type' END,
        CASE WHEN tss IS NULL THEN 'missing_timestamp' WHEN tsz IS NULL THEN 'invalid_timestamp'
             WHEN tsz < TIMESTAMPTZ '2000-01-01 00:00:00+00' THEN 'timestamp_too_early'
             WHEN tsz > now() + INTERVAL 5 MINUTE THEN 'timestamp_in_future' END,
        CASE WHEN ty IN ('play', 'complete') AND NOT coalesce(dv > 0 AND dv = floor(dv), false)
                  THEN 'invalid_duration_for_play_complete'
             WHEN ty IN ('pause', 'seek') AND dt IS NOT NULL AND dt <> 'NULL'
                  THEN 'non_null_duration_for_other_event' END)
      END AS codes
    FROM g""")
    mark("parsed")
    con.execute("INSERT INTO bronze_event SELECT file, line_no, raw, nullif(codes, '') FROM parsed")
    con.execute("""
    INSERT INTO silver_event
    SELECT tsz AT TIME ZONE 'UTC', u, e, ty, CAST(dv AS BIGINT), file, line_no
    FROM parsed p
    WHERE codes = ''
      AND NOT EXISTS (SELECT 1 FROM silver_event s
                      WHERE s.ts = (p.tsz AT TIME ZONE 'UTC') AND s.user_id = p.u
                        AND s.episode_id = p.e AND s.event_type = p.ty)
    QUALIFY row_number() OVER (PARTITION BY tsz, u, e, ty ORDER BY file, line_no) = 1""")
mark("silver")
for f in new:
    con.execute("INSERT INTO ledger VALUES (?, ?, now())", [os.path.basename(f), os.path.getsize(f)])

# Gold: the fact and the three answers, rebuilt.
con.execute("""
CREATE OR REPLACE TABLE fact_user_interactions AS
SELECT row_number() OVER () AS interaction_id, s.*, CAST(s.ts AS DATE) AS day,
       CASE WHEN s.event_type = 'complete' AND e.duration_seconds > 0
            THEN s.duration / e.duration_seconds END AS listen_through_rate,
       u.user_id IS NOT NULL AS user_known, e.episode_id IS NOT NULL AS episode_known
FROM silver_event s LEFT JOIN silver_user u USING (user_id) LEFT JOIN silver_episode e USING (episode_id);
CREATE OR REPLACE TABLE gold_top_episodes_7d AS
WITH last AS (SELECT max(day) AS d FROM fact_user_interactions)
SELECT row_number() OVER (ORDER BY count(*) DESC, f.episode_id) AS rank, f.episode_id,
       coalesce(any_value(e.title), '') AS title, any_value(e.podcast_id) AS podcast_id,
       count(*) AS completions
FROM fact_user_interactions f LEFT JOIN silver_episode e ON e.episode_id = f.episode_id, last
WHERE f.event_type = 'complete' AND f.day BETWEEN last.d - 6 AND last.d
GROUP BY f.episode_id ORDER BY completions DESC, f.episode_id LIMIT 10;
CREATE OR REPLACE TABLE gold_listen_through_by_country AS
SELECT u.country, round(avg(f.listen_through_rate), 6) AS avg_listen_through_rate, count(*) AS completions
FROM fact_user_interactions f JOIN silver_user u USING (user_id)
WHERE f.event_type = 'complete' AND f.listen_through_rate IS NOT NULL
GROUP BY u.country ORDER BY u.country;
CREATE OR REPLACE TABLE gold_multi_episode_users_by_day AS
SELECT day, count(*) AS users FROM (
  SELECT day, user_id FROM fact_user_interactions WHERE event_type IN ('play', 'complete')
  GROUP BY day, user_id HAVING count(DISTINCT episode_id) >= 3) GROUP BY day ORDER BY day;
CREATE OR REPLACE TABLE gold_multi_episode_users AS
SELECT count(DISTINCT user_id) AS users FROM (
  SELECT day, user_id FROM fact_user_interactions WHERE event_type IN ('play', 'complete')
  GROUP BY day, user_id HAVING count(DISTINCT episode_id) >= 3);
""")
con.execute("COMMIT")
n = con.execute("SELECT (SELECT count(*) FROM bronze_event), (SELECT count(*) FROM silver_event), (SELECT users FROM gold_multi_episode_users)").fetchone()
mark("gold")
print(" · ".join(marks), file=sys.stderr)
print(f"duckdb: {len(new)} new files, bronze {n[0]}, silver {n[1]}, multi-episode users {n[2]}, {time.time() - t0:.2f} s", file=sys.stderr)
