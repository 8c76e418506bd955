-- op_phases: phase_events from every timed call in the selection, one row per (call, phase) (stg_op_phases): the
-- exact input of the phases' percentiles, always eligible. Filters as op_events.
-- provides: phase_events
-- filters: service mode op status user agent model tag tagged
-- keys: bucket day service mode op status user_id agent_id tag
-- columns: every column of stg_op_phases, bucket (TIMESTAMP UTC start of the $grain bucket)
SELECT *, date_trunc($grain, ts) AS bucket
FROM stg_op_phases
WHERE ($start IS NULL OR ts >= $start) AND ($end IS NULL OR ts < $end)
  AND ($service IS NULL OR service = $service) AND ($mode IS NULL OR mode = $mode)
  AND ($op IS NULL OR op = $op) AND ($status IS NULL OR status = $status)
  AND ($user IS NULL OR user_id = $user) AND ($agent IS NULL OR agent_id = $agent)
  AND ($model IS NULL OR embedding_model = $model OR llm_model = $model) AND ($tag IS NULL OR tag = $tag)
  AND ($tagged IS NULL OR (tag IS NOT NULL) = $tagged)
