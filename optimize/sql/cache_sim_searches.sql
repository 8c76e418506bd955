-- The cacheable searches (stg_cache_lookups: the SearchCache's rules) with their priced cost, in the order they
-- started (ties in event-id order). One row per search.
-- Columns: start_ns, end_ns (BIGINT epoch ns), key_hash, group_hash (UBIGINT: the cache key; service + user),
-- service (VARCHAR), ok, served_by_cache, through_cache, could_be_served (BOOLEAN), latency_ms, cost_usd (DOUBLE).
-- Parameters: $since, $until (timestamps or NULL: the window [since, until)).
SELECT l.start_ns, l.end_ns, l.key_hash, l.group_hash, l.service, l.ok,
       l.served_by_cache, l.through_cache, l.could_be_served, l.latency_ms,
       coalesce(c.total_cost_usd, 0) AS cost_usd
FROM stg_cache_lookups AS l
LEFT JOIN (SELECT event_id, total_cost_usd FROM stg_op_costs WHERE op = 'search') AS c USING (event_id)
WHERE ($since IS NULL OR l.ts >= $since) AND ($until IS NULL OR l.ts < $until)
ORDER BY l.start_ns, l.event_id
