-- slow_ops: the slowest operations over thresholds.slow_op_ms in the selection, with their query shape: a listing
-- of calls, not a figure; at most $limit rows, slowest first.
-- reads: op_facts
-- exact: yes
-- params: limit
-- grain: one row per slow operation event.
-- columns: ts (TIMESTAMP UTC), op, latency_ms (DOUBLE ms), status, service, user_id, agent_id, top_k (INTEGER
--   effective result cap), limit_passed (INTEGER `limit=` as passed), scope, filter_keys (VARCHAR joined),
--   rerank (BOOLEAN), result_count (INTEGER), cache, embedding_model, llm_model, query_hash, event_id
SELECT
    ts, op, latency_ms, status, service, user_id, agent_id, effective_limit AS top_k, "limit" AS limit_passed,
    scope, array_to_string(filter_keys, ', ') AS filter_keys, rerank_requested AS rerank, result_count, cache,
    embedding_model, llm_model, query_hash, event_id
FROM op_facts
WHERE slow_ops = 1
ORDER BY latency_ms DESC, event_id
LIMIT $limit
