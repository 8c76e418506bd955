-- metric_cache_daily: cache effectiveness per UTC day for calls that went through a memlens cache.
-- hit_rate = hits / (hits + misses); bypasses (calls the cache chose not to serve) are excluded from the
-- rate and counted separately. miss_penalty = avg miss latency / avg hit latency (target < 2x).
-- grain: one row per day (only days with at least one call carrying a cache outcome).
-- columns:
--   day (DATE UTC)
--   cache_requests (BIGINT calls with a cache outcome), hits, misses, bypasses (BIGINT calls)
--   hit_rate (DOUBLE 0..1, NULL without hits or misses)
--   avg_hit_ms, avg_miss_ms, avg_bypass_ms (DOUBLE milliseconds)
--   miss_penalty (DOUBLE ratio avg_miss_ms / avg_hit_ms, NULL when either side is missing or 0)
--   demo_events (BIGINT demo rows among cache_requests)
--   cache_hit_target (DOUBLE config target rate, 0..1), below_target (BOOLEAN hit_rate < cache_hit_target)
-- Cheap: one grouped scan of stg_op_events (the 'day' grouping of stg_cache_totals).
CREATE OR REPLACE VIEW metric_cache_daily AS
SELECT
    day,
    cache_requests, hits, misses, bypasses, hit_rate,
    avg_hit_ms, avg_miss_ms, avg_bypass_ms, miss_penalty,
    demo_events, cache_hit_target, below_target
FROM stg_cache_totals
WHERE grouped_by = 'day';
