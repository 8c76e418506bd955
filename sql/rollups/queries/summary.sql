-- summary: the additive part of metric_health_summary over whole UTC days [$start, $end) and an optional
-- $service, from the rollups (percentiles come from the histograms, storage from metric_storage_summary).
-- grain: one row. columns: ops, searches, demo_events, search_avg_ms, avg_ms, errors, error_rate, slow_ops,
-- slow_share, cache_requests, hits, misses, hit_rate, miss_penalty, *_cost_usd, embedding_share,
-- cost_per_1k_searches_usd (all, oss, platform), priced.
WITH ops AS (
    SELECT
        min(hour) AS first_hour, max(hour) AS last_hour,
        sum(ops) AS ops, sum(searches) AS searches,
        sum(ops) FILTER (WHERE is_demo) AS demo_events,
        sum(sum_ms) FILTER (WHERE op = 'search') / nullif(sum(searches), 0) AS search_avg_ms,
        sum(sum_ms) / nullif(sum(ops), 0) AS avg_ms,
        sum(errors) AS errors, sum(slow_ops) AS slow_ops,
        sum(cache_requests) AS cache_requests, sum(hits) AS hits, sum(misses) AS misses,
        sum(hit_sum_ms) / nullif(sum(hits), 0) AS avg_hit_ms, sum(miss_sum_ms) / nullif(sum(misses), 0) AS avg_miss_ms
    FROM agg_op_hourly
    WHERE ($start IS NULL OR day >= CAST($start AS DATE)) AND ($end IS NULL OR day < CAST($end AS DATE))
      AND ($service IS NULL OR service = $service)
),
costs AS (
    SELECT
        sum(total_cost_usd) AS total_cost_usd, sum(embedding_cost_usd) AS embedding_cost_usd,
        sum(llm_cost_usd) AS llm_cost_usd, sum(platform_cost_usd) AS platform_cost_usd,
        sum(total_cost_usd) FILTER (WHERE mode = 'oss') AS oss_cost_usd,
        sum(searches) FILTER (WHERE mode = 'oss') AS oss_searches,
        sum(total_cost_usd) FILTER (WHERE mode = 'platform') AS platform_mode_cost_usd,
        sum(searches) FILTER (WHERE mode = 'platform') AS platform_searches,
        coalesce(sum(unpriced_events), 0) = 0 AS priced
    FROM agg_cost_daily
    WHERE ($start IS NULL OR day >= CAST($start AS DATE)) AND ($end IS NULL OR day < CAST($end AS DATE))
      AND ($service IS NULL OR service = $service)
)
SELECT
    o.ops, o.searches, o.demo_events, o.search_avg_ms, o.avg_ms,
    o.errors, o.errors / nullif(o.ops, 0) AS error_rate,
    o.slow_ops, o.slow_ops / nullif(o.ops, 0) AS slow_share,
    o.cache_requests, o.hits, o.misses,
    o.hits / nullif(o.hits + o.misses, 0) AS hit_rate,
    o.avg_miss_ms / nullif(o.avg_hit_ms, 0) AS miss_penalty,
    c.total_cost_usd, c.embedding_cost_usd, c.llm_cost_usd, c.platform_cost_usd,
    c.embedding_cost_usd / nullif(c.total_cost_usd, 0) AS embedding_share,
    c.total_cost_usd * 1000.0 / nullif(o.searches, 0) AS cost_per_1k_searches_usd,
    c.oss_cost_usd * 1000.0 / nullif(c.oss_searches, 0) AS oss_cost_per_1k_searches_usd,
    c.platform_mode_cost_usd * 1000.0 / nullif(c.platform_searches, 0) AS platform_cost_per_1k_searches_usd,
    coalesce(c.priced, true) AS priced
FROM ops AS o CROSS JOIN costs AS c
