-- PostgreSQL migration 0002: gold (SPEC §5) — the star schema, the aggregates, the answers,
-- with the names, columns and meanings of SQLite's migrations 0002 and 0012 (doc/data-model.md
-- is the reference for every table and column), so analysts' SQL carries over.
-- Shipped migrations are never edited: change the schema with a new numbered file.
--
-- Types: SQLite INTEGER -> bigint, TEXT -> text COLLATE "C" (byte order, as SQLite's
-- BINARY), REAL -> double precision. Flags (user_known, episode_known, is_weekend) are
-- bigint 0/1, as in SQLite. Days in the aggregates are days since 1970-01-01 (silver ts /
-- 86400); answers show them as 'YYYY-MM-DD'.
--
-- The refresh (Store/PostgreSQL/PostgresGoldRefresher.swift, SQL/postgres/gold/*.sql) runs
-- on the server, set-based, in one transaction (readers see the old gold or the new one),
-- under the transaction-level advisory lock (namespace 'podp', key 2) so that exactly one
-- refresh runs at a time across every host. Section 4 below makes every write to silver take
-- the same lock SHARED for its transaction: a refresh waits for the silver writes in flight
-- to commit and holds new ones back until it commits, so the event-id watermark never skips
-- an event committed late by another host (identities are handed out at insert, not at
-- commit), and the reference change log is never emptied of a change it did not see.

--------------------------------------------------------------------------------------------
-- 0. Helpers: the arithmetic of gold (Gold/GoldArithmetic.swift), never raising an overflow
--------------------------------------------------------------------------------------------

-- 'YYYY-MM-DD' of a day number (days since 1970-01-01), whatever the DateStyle.
CREATE FUNCTION podpipe_day_text(day bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN to_char(date '1970-01-01' + day::integer, 'YYYY-MM-DD');

-- A sum held in bigint: saturates at the bounds instead of failing (SQLite's podpipe_add /
-- podpipe_sum).
CREATE FUNCTION podpipe_clamp(value numeric) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN GREATEST(LEAST(value, 9223372036854775807), -9223372036854775808)::bigint;

-- A pair's listen-through rate round(1e9 × S / D) (halves up), held at 1e15; 0 without
-- seconds or without a positive duration (SQLite's podpipe_rate_e9, GoldArithmetic.rateE9).
CREATE FUNCTION podpipe_rate_e9(seconds bigint, duration bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE
    WHEN seconds <= 0 OR duration <= 0 THEN 0
    ELSE LEAST(div(seconds::numeric * 1000000000 + duration / 2, duration), 1000000000000000)::bigint
END;

--------------------------------------------------------------------------------------------
-- 1. Star schema
--------------------------------------------------------------------------------------------

-- fact_user_interactions — grain: one silver event (one distinct
-- (user_id, episode_id, event_type, UTC second)). A view over silver_event (see SQLite's 0002).
CREATE VIEW fact_user_interactions AS
SELECT
    e.event_id                                                            AS interaction_id,
    to_char(timestamp '1970-01-01' + e.ts * interval '1 second',
            'YYYY-MM-DD"T"HH24:MI:SS"Z"')::text COLLATE "C"               AS event_timestamp,
    podpipe_day_text(e.ts / 86400) COLLATE "C"                            AS event_date,
    e.ts                                                                  AS event_unix_seconds,
    e.event_type                                                          AS event_type,
    e.user_id                                                             AS user_id,
    e.episode_id                                                          AS episode_id,
    e.duration                                                            AS listened_seconds,
    (u.user_id IS NOT NULL)::integer::bigint                              AS user_known,
    (ep.episode_id IS NOT NULL)::integer::bigint                          AS episode_known,
    CASE
        WHEN e.event_type = 'complete' AND ep.duration_seconds > 0
        THEN e.duration::double precision / ep.duration_seconds
    END                                                                   AS listen_through_rate,
    e.file_id                                                             AS source_file_id,
    e.line_no                                                             AS source_line_no
FROM silver_event AS e
LEFT JOIN silver_user AS u ON u.user_id = e.user_id
LEFT JOIN silver_episode AS ep ON ep.episode_id = e.episode_id;

-- dim_users — grain: one user of the reference data.
CREATE VIEW dim_users AS
SELECT
    user_id,
    signup_date,
    substr(signup_date, 1, 7) AS signup_month,
    country
FROM silver_user;

-- dim_episodes — grain: one episode of the reference data.
CREATE VIEW dim_episodes AS
SELECT
    episode_id,
    podcast_id,
    title,
    release_date,
    duration_seconds,
    (CASE
        WHEN duration_seconds < 900 THEN '00-15 min'
        WHEN duration_seconds < 1800 THEN '15-30 min'
        WHEN duration_seconds < 2700 THEN '30-45 min'
        WHEN duration_seconds < 3600 THEN '45-60 min'
        WHEN duration_seconds < 5400 THEN '60-90 min'
        ELSE '90+ min'
    END)::text COLLATE "C" AS length_bucket
FROM silver_episode;

-- dim_date — grain: one UTC calendar day, every day from the earliest to the latest of the
-- event days and the reference dates (1970-01-01 .. 2099-12-31), no gaps.
CREATE TABLE dim_date (
    date_key     text COLLATE "C" PRIMARY KEY,
    day_number   bigint NOT NULL UNIQUE,
    year         bigint NOT NULL,
    quarter      bigint NOT NULL,
    month        bigint NOT NULL,
    month_key    text COLLATE "C" NOT NULL,
    day_of_month bigint NOT NULL,
    day_of_week  bigint NOT NULL,
    day_name     text COLLATE "C" NOT NULL,
    is_weekend   bigint NOT NULL,
    iso_year     bigint NOT NULL,
    iso_week     bigint NOT NULL,
    week_start   text COLLATE "C" NOT NULL
);

--------------------------------------------------------------------------------------------
-- 2. Aggregates (internal; grain and meaning as in SQLite's 0002)
--------------------------------------------------------------------------------------------

CREATE TABLE gold_agg_day (
    day                 bigint PRIMARY KEY,
    events              bigint NOT NULL DEFAULT 0,
    plays               bigint NOT NULL DEFAULT 0,
    pauses              bigint NOT NULL DEFAULT 0,
    seeks               bigint NOT NULL DEFAULT 0,
    completions         bigint NOT NULL DEFAULT 0,
    active_users        bigint NOT NULL DEFAULT 0,
    listening_users     bigint NOT NULL DEFAULT 0,
    multi_episode_users bigint NOT NULL DEFAULT 0
);

CREATE TABLE gold_agg_episode_day (
    day         bigint NOT NULL,
    episode_id  text COLLATE "C" NOT NULL,
    completions bigint NOT NULL,
    PRIMARY KEY (day, episode_id)
);

CREATE TABLE gold_agg_episode (
    episode_id            text COLLATE "C" PRIMARY KEY,
    plays                 bigint NOT NULL DEFAULT 0,
    pauses                bigint NOT NULL DEFAULT 0,
    seeks                 bigint NOT NULL DEFAULT 0,
    completions           bigint NOT NULL DEFAULT 0,
    complete_duration_sum bigint NOT NULL DEFAULT 0,
    listeners             bigint NOT NULL DEFAULT 0,
    first_day             bigint,
    last_day              bigint
);

CREATE TABLE gold_agg_day_user_episode (
    day        bigint NOT NULL,
    user_id    text COLLATE "C" NOT NULL,
    episode_id text COLLATE "C" NOT NULL,
    listened   bigint NOT NULL,
    PRIMARY KEY (day, user_id, episode_id)
);

CREATE TABLE gold_agg_user_day (
    user_id text COLLATE "C" NOT NULL,
    day     bigint NOT NULL,
    PRIMARY KEY (user_id, day)
);

CREATE TABLE gold_agg_user_episode (
    user_id               text COLLATE "C" NOT NULL,
    episode_id            text COLLATE "C" NOT NULL,
    plays                 bigint NOT NULL DEFAULT 0,
    completions           bigint NOT NULL DEFAULT 0,
    complete_duration_sum bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, episode_id)
);
CREATE INDEX gold_agg_user_episode_completed
    ON gold_agg_user_episode (episode_id) WHERE completions > 0;

CREATE TABLE gold_agg_multi_episode_user (
    user_id         text COLLATE "C" PRIMARY KEY,
    qualifying_days bigint NOT NULL,
    first_day       bigint NOT NULL
);

CREATE TABLE gold_agg_country_listen_through (
    country     text COLLATE "C" PRIMARY KEY,
    rate_sum_e9 bigint NOT NULL,
    completions bigint NOT NULL
);

CREATE TABLE gold_agg_cohort_period (
    cohort_month  text COLLATE "C" NOT NULL,
    period        text COLLATE "C" NOT NULL,
    period_number bigint NOT NULL,
    active_users  bigint NOT NULL,
    PRIMARY KEY (cohort_month, period, period_number)
);

CREATE TABLE gold_agg_cohort_size (
    cohort_month text COLLATE "C" PRIMARY KEY,
    users        bigint NOT NULL
);

--------------------------------------------------------------------------------------------
-- 3. Snapshots of the reference data the aggregates reflect, and the change log
--------------------------------------------------------------------------------------------

CREATE TABLE gold_ref_user (
    user_id            text COLLATE "C" PRIMARY KEY,
    country            text COLLATE "C" NOT NULL,
    signup_date        text COLLATE "C" NOT NULL,
    signup_day         bigint NOT NULL,
    signup_month_index bigint NOT NULL,
    cohort_month       text COLLATE "C" NOT NULL
);

CREATE TABLE gold_ref_episode (
    episode_id       text COLLATE "C" PRIMARY KEY,
    duration_seconds bigint NOT NULL
);

-- The ids whose gold-relevant reference values (a user's country or signup date, an
-- episode's duration) changed, appeared or disappeared since the last refresh; filled by
-- the triggers below in the ingest's own transaction; read and emptied by the next
-- refresh (SQL/postgres/gold/refresh_reference.sql), which moves only those members.
CREATE TABLE gold_reference_change (
    kind text COLLATE "C" NOT NULL CHECK (kind IN ('user', 'episode')),
    id   text COLLATE "C" NOT NULL,
    PRIMARY KEY (kind, id)
);

CREATE FUNCTION podpipe_gold_user_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF TG_OP = 'DELETE' OR OLD.user_id IS DISTINCT FROM NEW.user_id
            OR OLD.country IS DISTINCT FROM NEW.country
            OR OLD.signup_date IS DISTINCT FROM NEW.signup_date
        THEN
            INSERT INTO gold_reference_change (kind, id) VALUES ('user', OLD.user_id)
            ON CONFLICT DO NOTHING;
        END IF;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (OLD.user_id IS DISTINCT FROM NEW.user_id
            OR OLD.country IS DISTINCT FROM NEW.country
            OR OLD.signup_date IS DISTINCT FROM NEW.signup_date))
    THEN
        INSERT INTO gold_reference_change (kind, id) VALUES ('user', NEW.user_id)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER gold_reference_change_user AFTER INSERT OR UPDATE OR DELETE ON silver_user
FOR EACH ROW EXECUTE FUNCTION podpipe_gold_user_change();

CREATE FUNCTION podpipe_gold_episode_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF TG_OP = 'DELETE' OR OLD.episode_id IS DISTINCT FROM NEW.episode_id
            OR OLD.duration_seconds IS DISTINCT FROM NEW.duration_seconds
        THEN
            INSERT INTO gold_reference_change (kind, id) VALUES ('episode', OLD.episode_id)
            ON CONFLICT DO NOTHING;
        END IF;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (OLD.episode_id IS DISTINCT FROM NEW.episode_id
            OR OLD.duration_seconds IS DISTINCT FROM NEW.duration_seconds))
    THEN
        INSERT INTO gold_reference_change (kind, id) VALUES ('episode', NEW.episode_id)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER gold_reference_change_episode AFTER INSERT OR UPDATE OR DELETE ON silver_episode
FOR EACH ROW EXECUTE FUNCTION podpipe_gold_episode_change();

--------------------------------------------------------------------------------------------
-- 4. The gate between silver writes and the refresh (see the header)
--------------------------------------------------------------------------------------------

-- Every statement that writes silver takes the refresh's advisory lock shared, for its
-- transaction (a no-op when the transaction holds it already, e.g. the refresh itself).
CREATE FUNCTION podpipe_gold_gate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(1886348400, 2);  -- ('podp', gold refresh)
    RETURN NULL;
END
$$;

CREATE TRIGGER silver_event_gold_gate BEFORE INSERT OR UPDATE OR DELETE ON silver_event
FOR EACH STATEMENT EXECUTE FUNCTION podpipe_gold_gate();
CREATE TRIGGER silver_user_gold_gate BEFORE INSERT OR UPDATE OR DELETE ON silver_user
FOR EACH STATEMENT EXECUTE FUNCTION podpipe_gold_gate();
CREATE TRIGGER silver_episode_gold_gate BEFORE INSERT OR UPDATE OR DELETE ON silver_episode
FOR EACH STATEMENT EXECUTE FUNCTION podpipe_gold_gate();

--------------------------------------------------------------------------------------------
-- 5. Answers
--------------------------------------------------------------------------------------------

CREATE TABLE gold_top_episodes_7d (
    rank          bigint PRIMARY KEY,
    episode_id    text COLLATE "C" NOT NULL,
    title         text COLLATE "C" NOT NULL,
    podcast_id    text COLLATE "C",
    completions   bigint NOT NULL,
    episode_known bigint NOT NULL,
    window_start  text COLLATE "C" NOT NULL,
    window_end    text COLLATE "C" NOT NULL
);

CREATE TABLE gold_listen_through_by_country (
    country                 text COLLATE "C" PRIMARY KEY,
    avg_listen_through_rate double precision NOT NULL,
    completions             bigint NOT NULL
);

CREATE TABLE gold_multi_episode_users (
    users bigint NOT NULL
);
INSERT INTO gold_multi_episode_users (users) VALUES (0);

CREATE TABLE gold_multi_episode_users_by_day (
    day   text COLLATE "C" PRIMARY KEY,
    users bigint NOT NULL
);

CREATE VIEW gold_daily_activity AS
SELECT
    podpipe_day_text(day) COLLATE "C" AS day,
    events,
    plays,
    pauses,
    seeks,
    completions,
    active_users,
    listening_users,
    multi_episode_users
FROM gold_agg_day;

CREATE VIEW gold_episode_performance AS
SELECT
    x.episode_id,
    COALESCE(e.title, '')                                   AS title,
    COALESCE(e.podcast_id, '')                              AS podcast_id,
    (e.episode_id IS NOT NULL)::integer::bigint             AS episode_known,
    e.duration_seconds,
    COALESCE(a.plays, 0)                                    AS plays,
    COALESCE(a.pauses, 0)                                   AS pauses,
    COALESCE(a.seeks, 0)                                    AS seeks,
    COALESCE(a.completions, 0)                              AS completions,
    CASE WHEN a.plays > 0 THEN a.completions::double precision / a.plays END
                                                            AS completion_rate,
    COALESCE(a.listeners, 0)                                AS unique_listeners,
    CASE
        WHEN a.completions > 0 AND e.duration_seconds > 0
        THEN a.complete_duration_sum::double precision / e.duration_seconds / a.completions
    END                                                     AS avg_listen_through_rate,
    podpipe_day_text(a.first_day) COLLATE "C"               AS first_event_day,
    podpipe_day_text(a.last_day) COLLATE "C"                AS last_event_day
FROM (
    SELECT episode_id FROM silver_episode
    UNION
    SELECT episode_id FROM gold_agg_episode
) AS x
LEFT JOIN gold_agg_episode AS a ON a.episode_id = x.episode_id
LEFT JOIN silver_episode AS e ON e.episode_id = x.episode_id;

CREATE VIEW gold_engagement_by_length AS
SELECT
    b.length_bucket,
    COUNT(*)                                                        AS episodes,
    COALESCE(SUM(a.plays), 0)::bigint                               AS plays,
    COALESCE(SUM(a.completions), 0)::bigint                         AS completions,
    CASE WHEN SUM(a.plays) > 0
         THEN SUM(a.completions)::double precision / SUM(a.plays)::double precision END
                                                                    AS completion_rate,
    COALESCE(SUM(a.plays), 0)::double precision / COUNT(*)          AS avg_plays_per_episode,
    CASE WHEN SUM(a.completions) > 0 AND b.length_bucket <> 'unknown'
         THEN SUM(a.complete_duration_sum::double precision / b.duration_seconds)
              / SUM(a.completions)::double precision END            AS avg_listen_through_rate
FROM (
    SELECT episode_id, length_bucket, duration_seconds FROM dim_episodes
    UNION ALL
    SELECT a.episode_id, 'unknown'::text COLLATE "C", NULL::bigint
    FROM gold_agg_episode AS a
    WHERE NOT EXISTS (SELECT 1 FROM silver_episode AS e WHERE e.episode_id = a.episode_id)
) AS b
LEFT JOIN gold_agg_episode AS a ON a.episode_id = b.episode_id
GROUP BY b.length_bucket;

CREATE VIEW gold_cohort_retention AS
SELECT
    p.cohort_month,
    s.users                                                 AS cohort_users,
    p.period,
    p.period_number,
    p.active_users,
    p.active_users::double precision / s.users              AS retention_rate
FROM gold_agg_cohort_period AS p
JOIN gold_agg_cohort_size AS s ON s.cohort_month = p.cohort_month;

CREATE VIEW gold_unknown_episodes AS
SELECT
    a.episode_id,
    a.plays + a.pauses + a.seeks + a.completions AS events,
    a.completions,
    podpipe_day_text(a.first_day) COLLATE "C"    AS first_event_day,
    podpipe_day_text(a.last_day) COLLATE "C"     AS last_event_day
FROM gold_agg_episode AS a
WHERE NOT EXISTS (SELECT 1 FROM silver_episode AS e WHERE e.episode_id = a.episode_id);
