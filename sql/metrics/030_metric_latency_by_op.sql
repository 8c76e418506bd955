-- metric_latency_by_op: latency and throughput per operation over all loaded data, plus an overall row.
-- grain: one row per op; op = 'all' aggregates every op.
-- Percentiles are exact: quantile_cont(latency_ms, [0.5, 0.95, 0.99]) in one list call, which equals
-- numpy.percentile's default 'linear' interpolation. Latency covers every call (ok and error).
-- columns:
--   op (VARCHAR Mem0 op or 'all')
--   ops (BIGINT calls), errors (BIGINT status 'error' calls), error_rate (DOUBLE errors / ops, 0..1)
--   demo_events (BIGINT demo rows among ops)
--   avg_ms, p50_ms, p95_ms, p99_ms, max_ms (DOUBLE milliseconds)
--   first_ts, last_ts (TIMESTAMP UTC, first and last call seen)
--   ops_per_s (DOUBLE operations per second over [first_ts, last_ts]; NULL when that span is 0)
-- Cheap: one grouped scan of stg_op_events.
CREATE OR REPLACE VIEW metric_latency_by_op AS
SELECT
    op, ops, errors, errors / ops AS error_rate, demo_events, avg_ms,
    q[1] AS p50_ms, q[2] AS p95_ms, q[3] AS p99_ms,
    max_ms, first_ts, last_ts,
    ops / nullif(epoch(last_ts) - epoch(first_ts), 0) AS ops_per_s
FROM (
    SELECT
        coalesce(op, 'all') AS op,
        count(*) AS ops,
        count(*) FILTER (WHERE is_error) AS errors,
        count(*) FILTER (WHERE is_demo) AS demo_events,
        avg(latency_ms) AS avg_ms,
        quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS q,
        max(latency_ms) AS max_ms,
        min(ts) AS first_ts,
        max(ts) AS last_ts
    FROM stg_op_events
    GROUP BY GROUPING SETS ((op), ())
);
