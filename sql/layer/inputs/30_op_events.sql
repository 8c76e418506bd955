-- op_events: op_facts and latency from every operation in the selection (stg_op_facts): the exact input,
-- always eligible. The filters are the dashboard's: a NULL parameter means "all"; the time range is [$start, $end).
-- provides: op_facts latency
-- filters: service mode op status user agent model tag tagged
-- keys: bucket day service mode op status user_id agent_id tag cache query_hash effective_limit scope rerank_requested embedding_model llm_model error_type
-- columns: every column of stg_op_facts, bucket (TIMESTAMP UTC start of the $grain bucket), n (1: one call)
SELECT *, date_trunc($grain, ts) AS bucket, 1 AS n
FROM stg_op_facts
WHERE ($start IS NULL OR ts >= $start) AND ($end IS NULL OR ts < $end)
  AND ($service IS NULL OR service = $service) AND ($mode IS NULL OR mode = $mode)
  AND ($op IS NULL OR op = $op) AND ($status IS NULL OR status = $status)
  AND ($user IS NULL OR user_id = $user) AND ($agent IS NULL OR agent_id = $agent)
  AND ($model IS NULL OR embedding_model = $model OR llm_model = $model) AND ($tag IS NULL OR tag = $tag)
  AND ($tagged IS NULL OR (tag IS NOT NULL) = $tagged)
