-- metric_cache_by_user: cache effectiveness per user over all loaded data for calls that went through a memlens cache.
-- hit_rate = hits / (hits + misses); bypasses (calls the cache chose not to serve) are excluded from the
-- rate and counted separately. miss_penalty = avg miss latency / avg hit latency (target < 2x).
-- grain: one row per user_id (NULL = calls without a user), only users with a cache outcome.
-- columns:
--   user_id (VARCHAR, NULL for calls without user_id)
--   cache_requests (BIGINT calls with a cache outcome), hits, misses, bypasses (BIGINT calls)
--   hit_rate (DOUBLE 0..1, NULL without hits or misses)
--   avg_hit_ms, avg_miss_ms, avg_bypass_ms (DOUBLE milliseconds)
--   miss_penalty (DOUBLE ratio avg_miss_ms / avg_hit_ms, NULL when either side is missing or 0)
--   demo_events (BIGINT demo rows among cache_requests)
--   cache_hit_target (DOUBLE config target rate, 0..1), below_target (BOOLEAN hit_rate < cache_hit_target)
-- Cheap: one grouped scan of stg_op_events.
CREATE OR REPLACE VIEW metric_cache_by_user AS
SELECT
    g.user_id, g.cache_requests, g.hits, g.misses, g.bypasses,
    g.hits / nullif(g.hits + g.misses, 0) AS hit_rate,
    g.avg_hit_ms, g.avg_miss_ms, g.avg_bypass_ms,
    g.avg_miss_ms / nullif(g.avg_hit_ms, 0) AS miss_penalty,
    g.demo_events,
    c.cache_hit_target,
    g.hits / nullif(g.hits + g.misses, 0) < c.cache_hit_target AS below_target
FROM (
    SELECT
        user_id,
        count(*) AS cache_requests,
        count(*) FILTER (WHERE cache = 'hit') AS hits,
        count(*) FILTER (WHERE cache = 'miss') AS misses,
        count(*) FILTER (WHERE cache = 'bypass') AS bypasses,
        avg(latency_ms) FILTER (WHERE cache = 'hit') AS avg_hit_ms,
        avg(latency_ms) FILTER (WHERE cache = 'miss') AS avg_miss_ms,
        avg(latency_ms) FILTER (WHERE cache = 'bypass') AS avg_bypass_ms,
        count(*) FILTER (WHERE is_demo) AS demo_events
    FROM stg_op_events
    WHERE cache IS NOT NULL
    GROUP BY user_id
) AS g
CROSS JOIN cfg_settings AS c;
