-- metric_query_shape_limit: how the result cap (top_k) of search/get_all calls is distributed and what it costs
-- in latency, plus how often a caller passed `limit=` that mem0 2.2.1 OSS silently ignores.
-- grain: one row per (op, effective_limit) for op IN ('search', 'get_all'); effective_limit NULL = not recorded.
-- Percentiles are exact: quantile_cont = numpy.percentile 'linear'. Latency covers every call (ok and error).
-- columns:
--   op (VARCHAR 'search' | 'get_all'), effective_limit (INTEGER top_k that applied, NULL = unknown)
--   calls (BIGINT), share (DOUBLE calls / all calls of that op, 0..1)
--   avg_ms, p50_ms, p95_ms, p99_ms (DOUBLE milliseconds)
--   avg_result_count (DOUBLE results returned per call)
--   limit_passed_calls (BIGINT calls that passed `limit=`), limit_ignored_calls (BIGINT of those, the OSS calls
--   where mem0 ignored it and top_k applied instead)
--   errors (BIGINT status 'error'), demo_events (BIGINT demo rows among calls)
-- Cheap: one grouped scan of stg_op_events.
CREATE OR REPLACE VIEW metric_query_shape_limit AS
SELECT
    op, effective_limit, calls,
    calls / sum(calls) OVER (PARTITION BY op) AS share,
    avg_ms, q[1] AS p50_ms, q[2] AS p95_ms, q[3] AS p99_ms,
    avg_result_count, limit_passed_calls, limit_ignored_calls, errors, demo_events
FROM (
    SELECT
        op, effective_limit,
        count(*) AS calls,
        avg(latency_ms) AS avg_ms,
        quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS q,
        avg(result_count) AS avg_result_count,
        count(*) FILTER (WHERE "limit" IS NOT NULL) AS limit_passed_calls,
        count(*) FILTER (WHERE limit_ignored) AS limit_ignored_calls,
        count(*) FILTER (WHERE is_error) AS errors,
        count(*) FILTER (WHERE is_demo) AS demo_events
    FROM stg_op_events
    WHERE op IN ('search', 'get_all')
    GROUP BY op, effective_limit
);
