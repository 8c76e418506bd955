-- agg_op_hourly: additive per-hour aggregates of every operation, materialised by memlens.rollups.refresh()
-- so dashboard pages over a 10M-event warehouse read ~1000x fewer rows. Sums and counts only: any grouping
-- or filter on these dimensions re-aggregates exactly (avg = sum_ms / ops, hit rate = hits / (hits + misses)).
-- Percentiles cannot be summed: use agg_latency_hist_daily, or exact quantiles on filtered raw rows.
-- grain: one row per (hour, service, mode, op, agent_id, is_demo). (User and model filters: read raw rows.)
-- columns:
--   hour (TIMESTAMP UTC), day (DATE UTC), service, mode, op, agent_id (VARCHAR),
--   is_demo (BOOLEAN)
--   ops, errors, slow_ops (BIGINT calls; slow = over cfg_settings.slow_op_ms at refresh time)
--   sum_ms, max_ms (DOUBLE milliseconds)
--   searches, cache_requests, hits, misses, bypasses (BIGINT calls)
--   hit_sum_ms, miss_sum_ms (DOUBLE milliseconds summed over hits / misses)
--   limit_ignored, unscoped, reranked (BIGINT calls), result_count_sum (BIGINT results), result_calls (BIGINT
--   calls that reported a result_count)
-- Refresh: one grouped scan of stg_op_events from $since on (the day of the earliest new event:
-- older days are kept, see memlens.rollups.refresh) (depends on cfg_settings: refresh after a config change).
CREATE OR REPLACE TABLE agg_op_hourly AS
SELECT
    hour, day, service, mode, op, agent_id, is_demo,
    count(*) AS ops,
    count(*) FILTER (WHERE is_error) AS errors,
    count(*) FILTER (WHERE is_slow) AS slow_ops,
    sum(latency_ms) AS sum_ms,
    max(latency_ms) AS max_ms,
    count(*) FILTER (WHERE op = 'search') AS searches,
    count(*) FILTER (WHERE cache IS NOT NULL) AS cache_requests,
    count(*) FILTER (WHERE cache = 'hit') AS hits,
    count(*) FILTER (WHERE cache = 'miss') AS misses,
    count(*) FILTER (WHERE cache = 'bypass') AS bypasses,
    coalesce(sum(latency_ms) FILTER (WHERE cache = 'hit'), 0) AS hit_sum_ms,
    coalesce(sum(latency_ms) FILTER (WHERE cache = 'miss'), 0) AS miss_sum_ms,
    count(*) FILTER (WHERE limit_ignored) AS limit_ignored,
    count(*) FILTER (WHERE is_unscoped AND op IN ('search', 'get_all')) AS unscoped,
    count(*) FILTER (WHERE rerank_requested AND op = 'search') AS reranked,
    CAST(coalesce(sum(result_count), 0) AS BIGINT) AS result_count_sum,
    count(result_count) AS result_calls
FROM stg_op_events
WHERE $since IS NULL OR ts >= $since  -- NULL: every day
GROUP BY ALL
ORDER BY hour;
