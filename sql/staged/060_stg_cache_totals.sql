-- stg_cache_totals: cache effectiveness for calls that went through a memlens cache, per UTC day and per user,
-- stated once for metric_cache_daily and metric_cache_by_user, which each read one grouping.
-- hit_rate = hits / (hits + misses); bypasses (calls the cache chose not to serve) are excluded from the
-- rate and counted separately. miss_penalty = avg miss latency / avg hit latency (target < 2x).
-- grain: one row per (grouped_by, key) with at least one call carrying a cache outcome: grouped_by 'day' -> day;
-- 'user' -> user_id (NULL = calls without a user). Key columns outside their grouping are NULL.
-- columns:
--   grouped_by (VARCHAR day | user), day (DATE UTC), user_id (VARCHAR)
--   cache_requests (BIGINT calls with a cache outcome), hits, misses, bypasses (BIGINT calls)
--   hit_rate (DOUBLE 0..1, NULL without hits or misses)
--   avg_hit_ms, avg_miss_ms, avg_bypass_ms (DOUBLE milliseconds)
--   miss_penalty (DOUBLE ratio avg_miss_ms / avg_hit_ms, NULL when either side is missing or 0)
--   demo_events (BIGINT demo rows among cache_requests)
--   cache_hit_target (DOUBLE config target rate, 0..1), below_target (BOOLEAN hit_rate < cache_hit_target)
-- Cheap: a filter on grouped_by is pushed into the label list, so a view reading one grouping is one grouped scan
-- of stg_op_events.
CREATE OR REPLACE VIEW stg_cache_totals AS
SELECT
    g.grouped_by, g.day, g.user_id, g.cache_requests, g.hits, g.misses, g.bypasses,
    g.hits / nullif(g.hits + g.misses, 0) AS hit_rate,
    g.avg_hit_ms, g.avg_miss_ms, g.avg_bypass_ms,
    g.avg_miss_ms / nullif(g.avg_hit_ms, 0) AS miss_penalty,
    g.demo_events,
    c.cache_hit_target,
    g.hits / nullif(g.hits + g.misses, 0) < c.cache_hit_target AS below_target
FROM (
    SELECT
        k.grouped_by,
        CASE WHEN k.grouped_by = 'day' THEN e.day END AS day,
        CASE WHEN k.grouped_by = 'user' THEN e.user_id END AS user_id,
        count(*) AS cache_requests,
        count(*) FILTER (WHERE e.cache = 'hit') AS hits,
        count(*) FILTER (WHERE e.cache = 'miss') AS misses,
        count(*) FILTER (WHERE e.cache = 'bypass') AS bypasses,
        avg(e.latency_ms) FILTER (WHERE e.cache = 'hit') AS avg_hit_ms,
        avg(e.latency_ms) FILTER (WHERE e.cache = 'miss') AS avg_miss_ms,
        avg(e.latency_ms) FILTER (WHERE e.cache = 'bypass') AS avg_bypass_ms,
        count(*) FILTER (WHERE e.is_demo) AS demo_events
    FROM stg_op_events AS e
    CROSS JOIN (VALUES ('day'), ('user')) AS k (grouped_by)
    WHERE e.cache IS NOT NULL
    GROUP BY ALL
) AS g
CROSS JOIN cfg_settings AS c;
