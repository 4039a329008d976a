-- PostgreSQL migration 0005: podpipe_catalog, SQLite's migration 0012 table of what
-- analysts' tools see (the descriptions of doc/data-model.md).
-- Shipped migrations are never edited: change the schema with a new numbered file.
--
-- Grain: one table or view (column_name = '') or one column of one (column_name = its
-- name). Only the table is created here: its rows are the one generated resource
-- SQL/catalog/podpipe_catalog.sql (scripts/update-catalog.sh, from doc/data-model.md), which
-- the writer loads at open on either engine (Store/Catalog.swift: Catalog.install on
-- SQLite, PostgresCatalog.install here), so that a newer podpipe brings newer descriptions
-- to an existing database. On PostgreSQL the same rows also become COMMENT ON the tables,
-- views and columns that exist (SQL/postgres/catalog/podpipe_catalog_comments.sql).
CREATE TABLE podpipe_catalog (
    object_name text COLLATE "C" NOT NULL,              -- table or view
    column_name text COLLATE "C" NOT NULL DEFAULT '',   -- '' for the object's own row
    kind        text COLLATE "C" NOT NULL CHECK (kind IN ('table', 'view', 'column')),
    layer       text COLLATE "C" NOT NULL,              -- star, answer, ledger, bronze, silver, state, internal
    position    bigint NOT NULL,                        -- order in doc/data-model.md
    type        text COLLATE "C" NOT NULL DEFAULT '',   -- a column's declared type (SQLite's)
    description text COLLATE "C" NOT NULL,
    PRIMARY KEY (object_name, column_name)
);
