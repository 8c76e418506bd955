-- metric_run_summary: the figures of each tagged run — a load-test/benchmark/compare phase (tag = run_id of
-- raw_loadtest_runs) or any other tag an application put on its events.
-- grain: one row per tag (events without a tag are not here).
-- Percentiles are exact quantile_cont (= numpy.percentile 'linear'); latency covers every call (ok and error).
-- Throughput divides by the load generator's measured wall time when the tag is a load-test run, else by
-- the span between the first and last call start.
-- columns:
--   tag (VARCHAR), run columns from raw_loadtest_runs (NULL when the tag is not a run): group_id, kind,
--   scenario_name, config_hash, variant, round, users, call_mode, backend, cache_enabled, top_k, rerank,
--   started_at, finished_at (TIMESTAMP UTC), wall_s (DOUBLE s), ops_issued, errors_issued (BIGINT)
--   ops (BIGINT logged calls), errors (BIGINT), error_rate (DOUBLE 0..1)
--   avg_ms, p50_ms, p95_ms, p99_ms, max_ms (DOUBLE milliseconds, all ops)
--   searches (BIGINT), search_avg_ms, search_p50_ms, search_p95_ms, search_p99_ms (DOUBLE ms, searches only)
--   adds, updates, deletes (BIGINT calls)
--   first_ts, last_ts (TIMESTAMP UTC first and last call start)
--   throughput_ops_s (DOUBLE ops per second)
--   cache_hits, cache_misses (BIGINT), cache_hit_rate (DOUBLE hits / (hits + misses), NULL without a cache)
--   embedding_tokens (BIGINT), total_cost_usd (DOUBLE USD), cost_per_1k_ops_usd (DOUBLE USD per 1,000 calls),
--   cost_per_1k_searches_usd (DOUBLE USD of all calls per 1,000 searches), priced (BOOLEAN false when a model or
--   op lacked a price: the cost is then a lower bound)
-- Cheap: two grouped scans of the tagged events (stg_op_events, stg_op_costs) and a join to the small runs table.
CREATE OR REPLACE VIEW metric_run_summary AS
WITH lat AS (
    SELECT
        tag,
        count(*) AS ops,
        count(*) FILTER (WHERE is_error) AS errors,
        avg(latency_ms) AS avg_ms,
        quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS q,
        max(latency_ms) AS max_ms,
        count(*) FILTER (WHERE op = 'search') AS searches,
        avg(latency_ms) FILTER (WHERE op = 'search') AS search_avg_ms,
        quantile_cont(latency_ms, [0.5, 0.95, 0.99]) FILTER (WHERE op = 'search') AS sq,
        count(*) FILTER (WHERE op = 'add') AS adds,
        count(*) FILTER (WHERE op = 'update') AS updates,
        count(*) FILTER (WHERE op = 'delete') AS deletes,
        min(ts) AS first_ts,
        max(ts) AS last_ts,
        count(*) FILTER (WHERE cache = 'hit') AS cache_hits,
        count(*) FILTER (WHERE cache = 'miss') AS cache_misses
    FROM stg_op_events
    WHERE tag IS NOT NULL
    GROUP BY tag
),
cost AS (
    SELECT
        tag,
        CAST(sum(embedding_tokens) AS BIGINT) AS embedding_tokens,
        sum(total_cost_usd) AS total_cost_usd,
        bool_and(priced) AS priced
    FROM stg_op_costs
    WHERE tag IS NOT NULL
    GROUP BY tag
)
SELECT
    l.tag,
    r.group_id, r.kind, r.scenario_name, r.config_hash, r.variant, r.round, r.users, r.call_mode, r.backend,
    r.cache_enabled, r.top_k, r.rerank, r.started_at, r.finished_at, r.wall_s, r.ops_issued, r.errors_issued,
    l.ops, l.errors, l.errors / l.ops AS error_rate,
    l.avg_ms, l.q[1] AS p50_ms, l.q[2] AS p95_ms, l.q[3] AS p99_ms, l.max_ms,
    l.searches, l.search_avg_ms, l.sq[1] AS search_p50_ms, l.sq[2] AS search_p95_ms, l.sq[3] AS search_p99_ms,
    l.adds, l.updates, l.deletes,
    l.first_ts, l.last_ts,
    l.ops / nullif(coalesce(r.wall_s, epoch(l.last_ts) - epoch(l.first_ts)), 0) AS throughput_ops_s,
    l.cache_hits, l.cache_misses,
    l.cache_hits / nullif(l.cache_hits + l.cache_misses, 0) AS cache_hit_rate,
    c.embedding_tokens, c.total_cost_usd,
    c.total_cost_usd * 1000.0 / l.ops AS cost_per_1k_ops_usd,
    c.total_cost_usd * 1000.0 / nullif(l.searches, 0) AS cost_per_1k_searches_usd,
    c.priced
FROM lat AS l
JOIN cost AS c USING (tag)
LEFT JOIN raw_loadtest_runs AS r ON r.run_id = l.tag;
