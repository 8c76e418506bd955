-- Successful searches with a query hash, with their priced cost: one row per search, in time order.
-- Columns: ts_ms, key_hash (the cache key), user_hash, latency_ms, cost_usd, served_by_cache.
-- Parameters: $since, $until (timestamps or NULL: the window [since, until)).
SELECT epoch_ms(e.ts) AS ts_ms,
       hash(e.user_id, e.agent_id, e.run_id, e.query_hash, e.top_k, e.rerank, e.threshold) AS key_hash,
       hash(e.user_id) AS user_hash,
       e.latency_ms,
       coalesce(c.total_cost_usd, 0) AS cost_usd,
       coalesce(e.cache = 'hit', false) AS served_by_cache
FROM stg_op_events AS e
LEFT JOIN stg_op_costs AS c USING (event_id)
WHERE e.op = 'search' AND e.status = 'ok' AND e.query_hash IS NOT NULL
  AND ($since IS NULL OR e.ts >= $since) AND ($until IS NULL OR e.ts < $until)
ORDER BY e.ts, e.event_id
