-- metric_query_shape_rerank: share of searches that asked for reranking and the latency with and without it
-- (mem0 ignores rerank=True when no reranker is configured; a latency gap shows one is running).
-- grain: one row per rerank value (true | false) of search calls; NULL rerank is read as false (mem0's default).
-- Percentiles are exact: quantile_cont = numpy.percentile 'linear'. Latency covers every call (ok and error).
-- columns:
--   rerank (BOOLEAN), calls (BIGINT searches), share (DOUBLE calls / all searches, 0..1)
--   avg_ms, p50_ms, p95_ms, p99_ms (DOUBLE milliseconds)
--   avg_result_count (DOUBLE results returned per call)
--   errors (BIGINT status 'error'), demo_events (BIGINT demo rows among calls)
-- Cheap: one grouped scan of stg_op_events.
CREATE OR REPLACE VIEW metric_query_shape_rerank AS
SELECT
    rerank, calls,
    calls / sum(calls) OVER () AS share,
    avg_ms, q[1] AS p50_ms, q[2] AS p95_ms, q[3] AS p99_ms,
    avg_result_count, errors, demo_events
FROM (
    SELECT
        rerank_requested AS rerank,
        count(*) AS calls,
        avg(latency_ms) AS avg_ms,
        quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS q,
        avg(result_count) AS avg_result_count,
        count(*) FILTER (WHERE is_error) AS errors,
        count(*) FILTER (WHERE is_demo) AS demo_events
    FROM stg_op_events
    WHERE op = 'search'
    GROUP BY rerank_requested
);
