-- metric_health_summary: the reference's "Performance Targets" measured over everything loaded, in one row, for
-- the Overview page (targets themselves are in the config: targets.*; colour against those).
-- grain: exactly one row (NULLs when there is no data for a figure).
-- Percentiles are exact: quantile_cont = numpy.percentile 'linear'. "Query latency" = search calls.
-- columns:
--   first_ts, last_ts (TIMESTAMP UTC first and last call), days (DOUBLE span in days)
--   ops (BIGINT calls), searches (BIGINT search calls), demo_events (BIGINT demo rows among ops)
--   search_avg_ms, search_p50_ms, search_p95_ms, search_p99_ms (DOUBLE ms, search calls)
--   avg_ms, p50_ms, p95_ms, p99_ms (DOUBLE ms, every call)
--   errors (BIGINT), error_rate (DOUBLE 0..1), slow_ops (BIGINT over cfg slow_op_ms), slow_share (DOUBLE 0..1)
--   cache_requests (BIGINT calls with a cache outcome), hits, misses (BIGINT)
--   hit_rate (DOUBLE hits / (hits + misses)), miss_penalty (DOUBLE avg miss ms / avg hit ms)
--   total_cost_usd, embedding_cost_usd, llm_cost_usd, platform_cost_usd (DOUBLE USD)
--   embedding_share (DOUBLE embedding / total cost, 0..1)
--   cost_per_1k_searches_usd (DOUBLE USD of all calls per 1,000 searches)
--   oss_cost_per_1k_searches_usd, platform_cost_per_1k_searches_usd (DOUBLE same, per mode: the reference's
--   targets differ, < $0.02 OSS and < $0.10 Platform; NULL when the mode has no searches)
--   priced (BOOLEAN false when some tokens or calls had no price row)
--   memories, bytes, storage_growth_month, storage_growth_week: from metric_storage_summary (Mem0's history)
-- Moderate: one scan each of stg_op_events and stg_op_costs (at 10M events prefer memlens.rollups.summary).
CREATE OR REPLACE VIEW metric_health_summary AS
WITH ops AS (
    SELECT
        min(ts) AS first_ts, max(ts) AS last_ts,
        count(*) AS ops,
        count(*) FILTER (WHERE op = 'search') AS searches,
        count(*) FILTER (WHERE is_demo) AS demo_events,
        avg(latency_ms) FILTER (WHERE op = 'search') AS search_avg_ms,
        quantile_cont(latency_ms, [0.5, 0.95, 0.99]) FILTER (WHERE op = 'search') AS sq,
        avg(latency_ms) AS avg_ms,
        quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS q,
        count(*) FILTER (WHERE is_error) AS errors,
        count(*) FILTER (WHERE is_slow) AS slow_ops,
        count(*) FILTER (WHERE cache IS NOT NULL) AS cache_requests,
        count(*) FILTER (WHERE cache = 'hit') AS hits,
        count(*) FILTER (WHERE cache = 'miss') AS misses,
        avg(latency_ms) FILTER (WHERE cache = 'hit') AS avg_hit_ms,
        avg(latency_ms) FILTER (WHERE cache = 'miss') AS avg_miss_ms
    FROM stg_op_events
),
costs AS (
    SELECT
        sum(total_cost_usd) AS total_cost_usd,
        sum(embedding_cost_usd) AS embedding_cost_usd,
        sum(llm_cost_usd) AS llm_cost_usd,
        sum(platform_cost_usd) AS platform_cost_usd,
        sum(total_cost_usd) FILTER (WHERE mode = 'oss') AS oss_cost_usd,
        count(*) FILTER (WHERE mode = 'oss' AND is_search) AS oss_searches,
        sum(total_cost_usd) FILTER (WHERE mode = 'platform') AS platform_cost_usd_mode,
        count(*) FILTER (WHERE mode = 'platform' AND is_search) AS platform_searches,
        bool_and(priced) AS priced
    FROM stg_op_costs
)
SELECT
    o.first_ts, o.last_ts,
    (epoch(o.last_ts) - epoch(o.first_ts)) / 86400.0 AS days,
    o.ops, o.searches, o.demo_events,
    o.search_avg_ms, o.sq[1] AS search_p50_ms, o.sq[2] AS search_p95_ms, o.sq[3] AS search_p99_ms,
    o.avg_ms, o.q[1] AS p50_ms, o.q[2] AS p95_ms, o.q[3] AS p99_ms,
    o.errors, o.errors / nullif(o.ops, 0) AS error_rate,
    o.slow_ops, o.slow_ops / nullif(o.ops, 0) AS slow_share,
    o.cache_requests, o.hits, o.misses,
    o.hits / nullif(o.hits + o.misses, 0) AS hit_rate,
    o.avg_miss_ms / nullif(o.avg_hit_ms, 0) AS miss_penalty,
    c.total_cost_usd, c.embedding_cost_usd, c.llm_cost_usd, c.platform_cost_usd,
    c.embedding_cost_usd / nullif(c.total_cost_usd, 0) AS embedding_share,
    c.total_cost_usd * 1000.0 / nullif(o.searches, 0) AS cost_per_1k_searches_usd,
    c.oss_cost_usd * 1000.0 / nullif(c.oss_searches, 0) AS oss_cost_per_1k_searches_usd,
    c.platform_cost_usd_mode * 1000.0 / nullif(c.platform_searches, 0) AS platform_cost_per_1k_searches_usd,
    coalesce(c.priced, true) AS priced,
    s.memories, s.bytes, s.storage_growth_month, s.storage_growth_week
FROM ops AS o
CROSS JOIN costs AS c
CROSS JOIN metric_storage_summary AS s;
