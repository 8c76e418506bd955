-- Successful searches by scope: one row per (scope, is_unscoped).
-- Columns: scope, is_unscoped, searches, avg_ms, avg_results. No parameters.
SELECT scope, is_unscoped, count(*) AS searches, avg(latency_ms) AS avg_ms, avg(result_count) AS avg_results
FROM stg_op_events WHERE op = 'search' AND status = 'ok' GROUP BY 1, 2 ORDER BY 1
