-- metric_cache_by_query: cache effectiveness per query pattern (hash of the normalised query), for the
-- "hit rate by query pattern" table: the patterns repeated most, and whether the cache catches them.
-- hit_rate = hits / (hits + misses); bypasses are excluded from the rate and counted separately.
-- grain: one row per query_hash among calls that carry both a query_hash and a cache outcome.
-- Pages should ORDER BY requests DESC LIMIT n.
-- columns:
--   query_hash (VARCHAR)
--   requests (BIGINT calls with a cache outcome), hits, misses, bypasses (BIGINT calls)
--   hit_rate (DOUBLE 0..1, NULL without hits or misses)
--   users (BIGINT distinct user_id asking it; calls without user_id not counted)
--   avg_ms, avg_hit_ms, avg_miss_ms (DOUBLE milliseconds)
--   first_ts, last_ts (TIMESTAMP UTC first and last request)
--   demo_events (BIGINT demo rows among requests)
-- Moderate: one grouped scan of stg_op_events with a distinct count per pattern.
CREATE OR REPLACE VIEW metric_cache_by_query AS
SELECT
    query_hash, requests, hits, misses, bypasses,
    hits / nullif(hits + misses, 0) AS hit_rate,
    users, avg_ms, avg_hit_ms, avg_miss_ms, first_ts, last_ts, demo_events
FROM (
    SELECT
        query_hash,
        count(*) AS requests,
        count(*) FILTER (WHERE cache = 'hit') AS hits,
        count(*) FILTER (WHERE cache = 'miss') AS misses,
        count(*) FILTER (WHERE cache = 'bypass') AS bypasses,
        count(DISTINCT user_id) AS users,
        avg(latency_ms) AS avg_ms,
        avg(latency_ms) FILTER (WHERE cache = 'hit') AS avg_hit_ms,
        avg(latency_ms) FILTER (WHERE cache = 'miss') AS avg_miss_ms,
        min(ts) AS first_ts,
        max(ts) AS last_ts,
        count(*) FILTER (WHERE is_demo) AS demo_events
    FROM stg_op_events
    WHERE query_hash IS NOT NULL AND cache IS NOT NULL
    GROUP BY query_hash
);
