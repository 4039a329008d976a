-- metrics counted_tables — the tables behind podpipe_table_rows{layer, table} (besides
-- silver_event, whose rows come from the ledger): the reference tables, dim_date and every
-- gold table (not the views). SQLite reads its catalogue; PostgreSQL's file beside it
-- (SQL/postgres/metrics/counted_tables.sql) reads pg_tables.
-- Grain: one table, by name in byte order. One column: name.
SELECT name FROM sqlite_master
WHERE type = 'table'
  AND (name IN ('silver_user', 'silver_episode', 'dim_date') OR name LIKE 'gold\_%' ESCAPE '\')
ORDER BY name
