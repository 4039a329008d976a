-- report cohort-retention — retention by signup cohort (PostgreSQL; SQLite's is
-- SQL/reports/cohort_retention.sql).
-- Grain: (cohort_month, period, period_number) with at least one active user; sorted by
-- cohort, then period ('month' before 'week'), then period number.
-- Definition: see gold_cohort_retention (active = any event in week/month N after signup;
-- retention_rate = active_users / cohort_users).
-- PostgreSQL: text sorts in byte order (COLLATE "C"), as SQLite's BINARY, whatever the
-- database's locale.
SELECT cohort_month, cohort_users, period, period_number, active_users, retention_rate
FROM gold_cohort_retention
ORDER BY cohort_month COLLATE "C", period COLLATE "C", period_number
