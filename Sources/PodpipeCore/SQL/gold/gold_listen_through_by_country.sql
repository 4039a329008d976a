-- gold_listen_through_by_country — average listen-through rate by country.
-- Grain: one country (of a known user), sorted by country.
-- Definition (SPEC §5.2): over complete events with a known user and a known episode of
-- positive duration_seconds, the mean of duration / duration_seconds (a rate above 1 is
-- possible and kept), grouped by the user's current country; completions = the number of
-- such events. Reference updates are followed: a user's new country or an episode's
-- corrected duration moves only the changed members' contributions (refresh_10_reference).
-- Source: gold_agg_country_listen_through, whose rate_sum_e9 is the fixed-point sum
-- Σ round(1e9 × Σ complete seconds / duration_seconds) over (user, episode) pairs: exact to
-- 1e-9 per pair, identical whatever the history of incremental refreshes.
SELECT
    country,
    CAST(rate_sum_e9 AS REAL) / 1000000000.0 / completions AS avg_listen_through_rate,
    completions
FROM gold_agg_country_listen_through
WHERE completions > 0
ORDER BY country
