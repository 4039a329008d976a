-- refresh_30_dim_date — extend dim_date, the contiguous UTC calendar, to cover the days
-- :lo_day .. :hi_day (days since 1970-01-01; the range of the events just folded in, or of
-- all of silver in a full rebuild). Only the days outside the current [first, last] range
-- are generated (the recursion jumps over it), so the cost is the number of new days.
-- ISO 8601 weeks: a week belongs to the year of its Thursday; day_of_week 1 = Monday.
INSERT OR IGNORE INTO dim_date (
    date_key, day_number, year, quarter, month, month_key, day_of_month,
    day_of_week, day_name, is_weekend, iso_year, iso_week, week_start)
WITH RECURSIVE
    cur (lo, hi) AS (SELECT MIN(day_number), MAX(day_number) FROM dim_date),
    batch (lo, hi) AS (SELECT :lo_day, :hi_day),
    span (lo, hi, cur_lo, cur_hi) AS (
        SELECT MIN(batch.lo, COALESCE(cur.lo, batch.lo)),
               MAX(batch.hi, COALESCE(cur.hi, batch.hi)),
               cur.lo, cur.hi
        FROM batch, cur
        WHERE batch.lo IS NOT NULL),
    days (d) AS (
        SELECT CASE WHEN span.lo = span.cur_lo THEN span.cur_hi + 1 ELSE span.lo END FROM span
        UNION ALL
        SELECT CASE WHEN days.d + 1 = span.cur_lo THEN span.cur_hi + 1 ELSE days.d + 1 END
        FROM days, span
        WHERE days.d < span.hi),
    cal (d, dow) AS (
        SELECT days.d, (CAST(strftime('%w', days.d * 86400, 'unixepoch') AS INTEGER) + 6) % 7 + 1
        FROM days, span
        WHERE days.d <= span.hi
          AND (span.cur_lo IS NULL OR days.d NOT BETWEEN span.cur_lo AND span.cur_hi))
SELECT
    date(d * 86400, 'unixepoch'),
    d,
    CAST(strftime('%Y', d * 86400, 'unixepoch') AS INTEGER),
    (CAST(strftime('%m', d * 86400, 'unixepoch') AS INTEGER) + 2) / 3,
    CAST(strftime('%m', d * 86400, 'unixepoch') AS INTEGER),
    strftime('%Y-%m', d * 86400, 'unixepoch'),
    CAST(strftime('%d', d * 86400, 'unixepoch') AS INTEGER),
    dow,
    CASE dow WHEN 1 THEN 'Monday' WHEN 2 THEN 'Tuesday' WHEN 3 THEN 'Wednesday'
             WHEN 4 THEN 'Thursday' WHEN 5 THEN 'Friday' WHEN 6 THEN 'Saturday'
             ELSE 'Sunday' END,
    dow >= 6,
    -- ISO 8601: the week belongs to the year of its Thursday
    CAST(strftime('%Y', (d - dow + 4) * 86400, 'unixepoch') AS INTEGER),
    (CAST(strftime('%j', (d - dow + 4) * 86400, 'unixepoch') AS INTEGER) - 1) / 7 + 1,
    date((d - dow + 1) * 86400, 'unixepoch')
FROM cal
