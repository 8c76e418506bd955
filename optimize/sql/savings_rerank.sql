-- Simple successful searches (effective_limit <= $max_k) by rerank_requested: one row per flag value.
-- Columns: rerank_requested, searches, avg_ms. Parameter: $max_k (largest top_k counted as simple).
SELECT rerank_requested, count(*) AS searches, avg(latency_ms) AS avg_ms
FROM stg_op_events WHERE op = 'search' AND status = 'ok' AND effective_limit <= $max_k
GROUP BY 1 ORDER BY 1
