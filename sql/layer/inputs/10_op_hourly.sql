-- op_hourly: op_facts from the hourly rollup agg_op_hourly (the same measures summed per hour): read instead of
-- op_events when the rollups are current, the time range falls on whole hours and the filters and group keys
-- are among the rollup's dimensions.
-- provides: op_facts
-- rollup: hour
-- filters: service mode op agent
-- keys: bucket day service mode op agent_id
-- columns: every column of agg_op_hourly, bucket (TIMESTAMP UTC start of the $grain bucket)
SELECT *, date_trunc($grain, hour) AS bucket
FROM agg_op_hourly
WHERE ($start IS NULL OR hour >= $start) AND ($end IS NULL OR hour < $end)
  AND ($service IS NULL OR service = $service) AND ($mode IS NULL OR mode = $mode)
  AND ($op IS NULL OR op = $op) AND ($agent IS NULL OR agent_id = $agent)
