-- The invalidations of the caches (stg_cache_invalidations): one row per successful write that drops keys.
-- Columns: end_ns (BIGINT epoch ns the write returned), service (VARCHAR), group_hash (UBIGINT service + user),
-- whole_service (BOOLEAN: delete_all without a user drops every key of the service).
-- Parameters: $since, $until (timestamps or NULL: the window [since, until)).
SELECT end_ns, service, hash(service, user_id) AS group_hash, user_id IS NULL AS whole_service
FROM stg_cache_invalidations
WHERE ($since IS NULL OR ts >= $since) AND ($until IS NULL OR ts < $until)
ORDER BY end_ns
