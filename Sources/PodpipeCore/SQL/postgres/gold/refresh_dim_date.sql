-- refresh_dim_date — dim_date on PostgreSQL: every UTC day from the earliest to the latest
-- of the event days (gold_agg_day) and the days dim_date already covers, and, when $1 is
-- true (a full rebuild, after refresh_reset emptied it), the users' signup dates and the
-- episodes' release dates between 1970-01-01 and 2099-12-31 (SQLite's refresh_30_dim_date
-- and dim_date_span: the same calendar). Days already there are kept (ON CONFLICT).
-- Columns: doc/data-model.md, dim_date. ISO 8601 weeks: a week belongs to the year of its
-- Thursday (PostgreSQL's isoyear / week); day_of_week 1 = Monday.
INSERT INTO dim_date (
    date_key, day_number, year, quarter, month, month_key, day_of_month,
    day_of_week, day_name, is_weekend, iso_year, iso_week, week_start)
WITH
    events (lo, hi) AS (SELECT MIN(day), MAX(day) FROM gold_agg_day),
    calendar (lo, hi) AS (SELECT MIN(day_number), MAX(day_number) FROM dim_date),
    reference (lo, hi) AS (
        SELECT MIN(make_date(substr(d, 1, 4)::integer, substr(d, 6, 2)::integer,
                             substr(d, 9, 2)::integer) - date '1970-01-01'),
               MAX(make_date(substr(d, 1, 4)::integer, substr(d, 6, 2)::integer,
                             substr(d, 9, 2)::integer) - date '1970-01-01')
        FROM (
            SELECT signup_date AS d FROM silver_user
            UNION ALL
            SELECT release_date FROM silver_episode
        ) AS dates
        WHERE $1::boolean AND d BETWEEN '1970-01-01' AND '2099-12-31'),
    span (lo, hi) AS (
        SELECT LEAST(events.lo, calendar.lo, reference.lo::bigint),
               GREATEST(events.hi, calendar.hi, reference.hi::bigint)
        FROM events, calendar, reference),
    days (day_number, d) AS (
        SELECT n, date '1970-01-01' + n::integer
        FROM span, generate_series(span.lo, span.hi) AS n
        WHERE span.lo IS NOT NULL)
SELECT
    to_char(d, 'YYYY-MM-DD'),
    day_number,
    extract(year FROM d)::bigint,
    extract(quarter FROM d)::bigint,
    extract(month FROM d)::bigint,
    to_char(d, 'YYYY-MM'),
    extract(day FROM d)::bigint,
    extract(isodow FROM d)::bigint,
    CASE extract(isodow FROM d)::integer
        WHEN 1 THEN 'Monday' WHEN 2 THEN 'Tuesday' WHEN 3 THEN 'Wednesday'
        WHEN 4 THEN 'Thursday' WHEN 5 THEN 'Friday' WHEN 6 THEN 'Saturday'
        ELSE 'Sunday' END,
    (extract(isodow FROM d) >= 6)::integer::bigint,
    extract(isoyear FROM d)::bigint,
    extract(week FROM d)::bigint,
    to_char(d - (extract(isodow FROM d)::integer - 1), 'YYYY-MM-DD')
FROM days
ON CONFLICT (day_number) DO NOTHING
