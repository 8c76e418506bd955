-- Successful searches by effective top_k: one row per top_k.
-- Columns: top_k, searches, avg_ms, p95_ms, avg_results. No parameters.
SELECT effective_limit AS top_k, count(*) AS searches, avg(latency_ms) AS avg_ms,
       quantile_cont(latency_ms, 0.95) AS p95_ms, avg(result_count) AS avg_results
FROM stg_op_events WHERE op = 'search' AND status = 'ok' AND effective_limit IS NOT NULL
GROUP BY 1 ORDER BY 1
