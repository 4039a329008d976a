-- dim_date_span — the reference dates dim_date covers besides the event days.
-- One row: lo_day, hi_day (days since 1970-01-01; NULL without reference rows): the earliest
-- and the latest of the users' signup dates and the episodes' release dates, leaving out
-- the dates before 1970-01-01 or after 2099-12-31 (valid YYYY-MM-DD, but a hostile year 0001
-- or 9999 would add millions of calendar days). Dates are validated YYYY-MM-DD, so text order
-- is date order. GoldCalendar.swift joins this span with the events' and fits dim_date to it
-- after every refresh that reconciled reference data (a scan of silver_user and
-- silver_episode, only then).
SELECT CAST(strftime('%s', MIN(d)) AS INTEGER) / 86400 AS lo_day,
       CAST(strftime('%s', MAX(d)) AS INTEGER) / 86400 AS hi_day
FROM (
    SELECT signup_date AS d FROM silver_user
    UNION ALL
    SELECT release_date FROM silver_episode
)
WHERE d BETWEEN '1970-01-01' AND '2099-12-31'
