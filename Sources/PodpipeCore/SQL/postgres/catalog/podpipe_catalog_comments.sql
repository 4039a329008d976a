-- catalog podpipe_catalog_comments — PostgreSQL only: the descriptions of podpipe_catalog
-- as COMMENT ON the relations and columns that exist in this database (psql's \d+, DBeaver,
-- Metabase and other tools show them). Grain of the input: one catalog row; an object or
-- column the catalog names but this database lacks (grdb_migrations, SQLite's own) is
-- skipped. The statement kind follows the relation's real kind (a view or a table), not the
-- catalog's. Run by PostgresCatalog.install right after the rows are loaded, in the same
-- transaction.
DO $$
DECLARE
    entry record;
BEGIN
    FOR entry IN
        SELECT c.object_name, c.column_name, c.description, r.relkind
        FROM podpipe_catalog AS c
        JOIN pg_class AS r ON r.oid = to_regclass(quote_ident(c.object_name))
        WHERE r.relkind IN ('r', 'v', 'm', 'p')
          AND (c.column_name = '' OR EXISTS (
                SELECT 1 FROM pg_attribute AS a
                WHERE a.attrelid = r.oid AND a.attname = c.column_name
                  AND a.attnum > 0 AND NOT a.attisdropped))
        ORDER BY c.position
    LOOP
        IF entry.column_name = '' THEN
            EXECUTE format('COMMENT ON %s %I IS %L',
                CASE entry.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
                entry.object_name, entry.description);
        ELSE
            EXECUTE format('COMMENT ON COLUMN %I.%I IS %L',
                entry.object_name, entry.column_name, entry.description);
        END IF;
    END LOOP;
END
$$
