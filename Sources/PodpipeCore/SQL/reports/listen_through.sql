-- report listen-through — `podpipectl report listen-through`.
-- Grain: one country, sorted by country. Columns (SPEC §8):
-- country,avg_listen_through_rate,completions (the rate rendered with six decimals).
-- Definition: see gold_listen_through_by_country.
SELECT country, avg_listen_through_rate, completions
FROM gold_listen_through_by_country
ORDER BY country
