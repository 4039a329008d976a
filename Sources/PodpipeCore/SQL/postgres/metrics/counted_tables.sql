-- metrics counted_tables — the tables behind podpipe_table_rows{layer, table} (besides
-- silver_event, whose rows come from the ledger): the reference tables, dim_date and every
-- gold table (not the views), as SQL/metrics/counted_tables.sql, from PostgreSQL's
-- catalogue: the tables of the schema podpipe's tables live in (the first of search_path).
-- Grain: one table, by name in byte order. One column: name.
SELECT tablename::text AS name FROM pg_tables
WHERE schemaname = current_schema()
  AND (tablename IN ('silver_user', 'silver_episode', 'dim_date') OR tablename LIKE 'gold\_%')
ORDER BY tablename::text COLLATE "C"
