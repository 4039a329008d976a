-- status writer_active — `podpipectl status` on PostgreSQL: whether a writer (the daemon or
-- `podpiped --once`) of this host's drop folder runs now, i.e. whether any session holds the
-- writer's advisory lock ($1 = its class, $2 = the text hashed into its key:
-- PostgresLockKey.writer, taken with pg_try_advisory_lock($1, hashtext($2))). pg_locks
-- shows a two-int advisory key as classid = the first int, objid = the second (as an
-- unsigned oid), objsubid = 2. One row, one boolean.
SELECT EXISTS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 2
      AND classid = ($1::bigint)::oid
      AND objid = (hashtext($2)::bigint & 4294967295)::oid
) AS writer_active
