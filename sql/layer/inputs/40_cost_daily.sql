-- cost_daily: cost_facts from the daily rollup agg_cost_daily (the same cost measures summed per day): read when
-- the rollups are current, the time range falls on whole days and the filters and keys are its dimensions.
-- provides: cost_facts
-- rollup: day
-- filters: service mode op agent model
-- keys: bucket day week month service mode op agent_id embedding_model llm_model
-- columns: every column of agg_cost_daily, bucket (TIMESTAMP UTC start of the $grain bucket)
SELECT *, CAST(date_trunc($grain, CAST(day AS TIMESTAMP)) AS TIMESTAMP) AS bucket
FROM agg_cost_daily
WHERE ($start IS NULL OR day >= CAST($start AS DATE)) AND ($end IS NULL OR day < CAST($end AS DATE))
  AND ($service IS NULL OR service = $service) AND ($mode IS NULL OR mode = $mode)
  AND ($op IS NULL OR op = $op) AND ($agent IS NULL OR agent_id = $agent)
  AND ($model IS NULL OR embedding_model = $model OR llm_model = $model)
