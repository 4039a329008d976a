-- report listen-through — `podpipectl report listen-through` (PostgreSQL; SQLite's is
-- SQL/reports/listen_through.sql).
-- Grain: one country, sorted by country. Columns (SPEC §8):
-- country,avg_listen_through_rate,completions (the rate rendered with six decimals).
-- Definition: see gold_listen_through_by_country.
-- PostgreSQL: text sorts in byte order (COLLATE "C"), as SQLite's BINARY ('US' before 'uk').
SELECT country, avg_listen_through_rate, completions
FROM gold_listen_through_by_country
ORDER BY country COLLATE "C"
