-- report cohort-retention — retention by signup cohort.
-- Grain: (cohort_month, period, period_number) with at least one active user; sorted by
-- cohort, then period ('month' before 'week'), then period number.
-- Definition: see gold_cohort_retention (active = any event in week/month N after signup;
-- retention_rate = active_users / cohort_users).
SELECT cohort_month, cohort_users, period, period_number, active_users, retention_rate
FROM gold_cohort_retention
ORDER BY cohort_month, period, period_number
