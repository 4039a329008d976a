-- gold_listen_through_by_country — average listen-through rate by country (PostgreSQL;
-- SQLite's is SQL/gold/gold_listen_through_by_country.sql, the same definition).
-- Grain: one country (of a known user), sorted by country in byte order.
-- Definition (SPEC §5.2): over complete events with a known user and a known episode of
-- positive duration_seconds, the mean of duration / duration_seconds, grouped by the user's
-- current country; completions = the number of such events. From the fixed-point sum
-- rate_sum_e9, with the same double-precision operations as SQLite (the same digits).
SELECT
    country,
    rate_sum_e9::double precision / 1000000000.0::double precision / completions
        AS avg_listen_through_rate,
    completions
FROM gold_agg_country_listen_through
WHERE completions > 0
ORDER BY country COLLATE "C"
