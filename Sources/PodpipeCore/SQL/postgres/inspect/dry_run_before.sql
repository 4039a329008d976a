-- inspect dry_run_before — PostgreSQL's `podpipectl validate` (Inspect/PostgresDryRun.swift):
-- the reference data as it stands before the dry run, copied into temporary tables dropped
-- with the run's transaction (which is rolled back). Grain: one silver_user / silver_episode
-- row. SQLite's dry run writes into TEMP twins and compares them with `main`; here the
-- loaders write into silver itself, so what a reference file adds or changes is counted
-- against this copy (dry_run_reference_changes.sql). Reference data is small (users,
-- episodes), copied once per run.
CREATE TEMP TABLE dry_run_before_user ON COMMIT DROP AS SELECT * FROM silver_user;
CREATE TEMP TABLE dry_run_before_episode ON COMMIT DROP AS SELECT * FROM silver_episode;
