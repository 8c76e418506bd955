-- cost_events: cost_facts from every priced operation in the selection (stg_op_costs): the exact input.
-- provides: cost_facts
-- filters: service mode op status user agent model tag tagged
-- keys: bucket day week month service mode op status user_id agent_id tag embedding_model llm_model infer add_outcome
-- columns: every column of stg_op_costs, bucket (TIMESTAMP UTC start of the $grain bucket)
SELECT *, date_trunc($grain, ts) AS bucket
FROM stg_op_costs
WHERE ($start IS NULL OR ts >= $start) AND ($end IS NULL OR ts < $end)
  AND ($service IS NULL OR service = $service) AND ($mode IS NULL OR mode = $mode)
  AND ($op IS NULL OR op = $op) AND ($status IS NULL OR status = $status)
  AND ($user IS NULL OR user_id = $user) AND ($agent IS NULL OR agent_id = $agent)
  AND ($model IS NULL OR embedding_model = $model OR llm_model = $model) AND ($tag IS NULL OR tag = $tag)
  AND ($tagged IS NULL OR (tag IS NOT NULL) = $tagged)
