-- metric_prom_ops: the Prometheus-side view of each operation over time (from raw_prom_samples), one
-- column per collected query, to set next to the op-log metrics.
-- grain: (source_url, service, op, ts).
-- columns: source_url, service, op, ts (UTC), p50_ms, p95_ms, p99_ms, mean_ms (DOUBLE latency from the
-- histogram over alerts.rate_window; NULL when idle), ops_per_s (DOUBLE), error_ratio (DOUBLE 0..1),
-- slow_ratio (DOUBLE share slower than thresholds.slow_op_ms), cache_hit_ratio (DOUBLE 0..1, NULL
-- without cache lookups).
CREATE OR REPLACE VIEW metric_prom_ops AS
SELECT
    source_url,
    service,
    op,
    ts,
    1000 * max(value) FILTER (WHERE query_name = 'latency_p50_seconds') AS p50_ms,
    1000 * max(value) FILTER (WHERE query_name = 'latency_p95_seconds') AS p95_ms,
    1000 * max(value) FILTER (WHERE query_name = 'latency_p99_seconds') AS p99_ms,
    1000 * max(value) FILTER (WHERE query_name = 'latency_mean_seconds') AS mean_ms,
    max(value) FILTER (WHERE query_name = 'ops_per_second') AS ops_per_s,
    max(value) FILTER (WHERE query_name = 'error_ratio') AS error_ratio,
    max(value) FILTER (WHERE query_name = 'slow_ratio') AS slow_ratio,
    max(value) FILTER (WHERE query_name = 'cache_hit_ratio') AS cache_hit_ratio
FROM raw_prom_samples
WHERE op IS NOT NULL
GROUP BY source_url, service, op, ts;
