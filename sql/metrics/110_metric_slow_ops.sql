-- metric_slow_ops: the slow operations themselves (latency_ms > cfg_settings.slow_op_ms, default 200 ms),
-- each with its query shape, for the slow-query list of the latency page.
-- grain: one row per slow operation event (event_id). Pages should ORDER BY latency_ms DESC LIMIT n.
-- columns:
--   event_id, ts (TIMESTAMP UTC), day (DATE UTC), service, mode, call_mode, op, status, error_type,
--   user_id, agent_id, run_id, tag (VARCHAR), is_demo (BOOLEAN)
--   latency_ms (DOUBLE milliseconds), slow_op_ms (DOUBLE threshold in milliseconds from config)
--   query shape: effective_limit (INTEGER = top_k), "limit" (INTEGER as passed), limit_ignored (BOOLEAN),
--   scope (VARCHAR e.g. 'user+run' or 'none'), filter_keys (VARCHAR[]), rerank_requested (BOOLEAN),
--   threshold (DOUBLE score threshold), result_count (INTEGER results), top_score (DOUBLE),
--   query_hash (VARCHAR), message_count (INTEGER), infer (BOOLEAN), cache (VARCHAR hit | miss | bypass),
--   embedding_model (VARCHAR), embedding_tokens (INTEGER tokens), llm_model (VARCHAR)
-- Cheap: a filtered scan of stg_op_events (size = number of slow calls; keep the LIMIT on the page).
CREATE OR REPLACE VIEW metric_slow_ops AS
SELECT
    e.event_id, e.ts, e.day, e.service, e.mode, e.call_mode, e.op, e.status, e.error_type,
    e.user_id, e.agent_id, e.run_id, e.tag, e.is_demo,
    e.latency_ms, c.slow_op_ms,
    e.effective_limit, e."limit", e.limit_ignored, e.scope, e.filter_keys, e.rerank_requested,
    e.threshold, e.result_count, e.top_score, e.query_hash, e.message_count, e.infer, e.cache,
    e.embedding_model, e.embedding_tokens, e.llm_model
FROM stg_op_events AS e
CROSS JOIN cfg_settings AS c
WHERE e.is_slow;
