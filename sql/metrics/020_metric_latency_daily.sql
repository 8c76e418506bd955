-- metric_latency_daily: latency and throughput per operation per UTC day, plus an overall row.
-- grain: one row per (day, op); op = 'all' rows aggregate every op of that day.
-- Percentiles are exact: quantile_cont(latency_ms, [0.5, 0.95, 0.99]) in one list call, which equals
-- numpy.percentile's default 'linear' interpolation. Latency covers every call (ok and error).
-- columns:
--   day (DATE UTC calendar day), op (VARCHAR Mem0 op or 'all')
--   ops (BIGINT calls), errors (BIGINT calls with status 'error'), demo_events (BIGINT demo rows among ops)
--   avg_ms, p50_ms, p95_ms, p99_ms, max_ms (DOUBLE milliseconds)
--   ops_per_s (DOUBLE operations per second = ops / 86400 s; the current day is partial)
-- Cheap: one grouped scan of stg_op_events.
CREATE OR REPLACE VIEW metric_latency_daily AS
SELECT
    day, op, ops, errors, demo_events, avg_ms,
    q[1] AS p50_ms, q[2] AS p95_ms, q[3] AS p99_ms,
    max_ms,
    ops / 86400.0 AS ops_per_s
FROM (
    SELECT
        day,
        coalesce(op, 'all') AS op,
        count(*) AS ops,
        count(*) FILTER (WHERE is_error) AS errors,
        count(*) FILTER (WHERE is_demo) AS demo_events,
        avg(latency_ms) AS avg_ms,
        quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS q,
        max(latency_ms) AS max_ms
    FROM stg_op_events
    GROUP BY GROUPING SETS ((day, op), (day))
);
