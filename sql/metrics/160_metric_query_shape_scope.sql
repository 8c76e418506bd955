-- metric_query_shape_scope: how search/get_all calls are scoped (user/agent/run filters) and the latency of each
-- scope; scope 'none' = unscoped calls (no user, agent or run filter), which scan every memory.
-- grain: one row per (op, scope) for op IN ('search', 'get_all').
-- Percentiles are exact: quantile_cont = numpy.percentile 'linear'. Latency covers every call (ok and error).
-- columns:
--   op (VARCHAR 'search' | 'get_all'), scope (VARCHAR entities joined by '+', e.g. 'user', 'user+run', or 'none')
--   is_unscoped (BOOLEAN scope = 'none')
--   calls (BIGINT), share (DOUBLE calls / all calls of that op, 0..1)
--   avg_ms, p50_ms, p95_ms, p99_ms (DOUBLE milliseconds)
--   avg_result_count (DOUBLE results returned per call)
--   errors (BIGINT status 'error'), demo_events (BIGINT demo rows among calls)
-- Cheap: one grouped scan of stg_op_events.
CREATE OR REPLACE VIEW metric_query_shape_scope AS
SELECT
    op, scope, scope = 'none' AS is_unscoped, calls,
    calls / sum(calls) OVER (PARTITION BY op) AS share,
    avg_ms, q[1] AS p50_ms, q[2] AS p95_ms, q[3] AS p99_ms,
    avg_result_count, errors, demo_events
FROM (
    SELECT
        op, scope,
        count(*) AS calls,
        avg(latency_ms) AS avg_ms,
        quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS q,
        avg(result_count) AS avg_result_count,
        count(*) FILTER (WHERE is_error) AS errors,
        count(*) FILTER (WHERE is_demo) AS demo_events
    FROM stg_op_events
    WHERE op IN ('search', 'get_all')
    GROUP BY op, scope
);
