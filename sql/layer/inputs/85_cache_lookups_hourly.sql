-- cache_lookups_hourly: cache_lookups from the hourly rollup agg_cache_lookups_hourly (the same counts summed per
-- hour): read instead of the exact cache_lookups when the rollups are current, the time range falls on whole hours
-- and the filters and group keys are among the rollup's dimensions.
-- provides: cache_lookups
-- rollup: hour
-- filters: service mode op status agent
-- keys: bucket day service mode status agent_id
-- columns: every column of agg_cache_lookups_hourly, bucket (TIMESTAMP UTC start of the $grain bucket)
SELECT *, date_trunc($grain, hour) AS bucket
FROM agg_cache_lookups_hourly
WHERE ($start IS NULL OR hour >= $start) AND ($end IS NULL OR hour < $end)
  AND ($service IS NULL OR service = $service) AND ($mode IS NULL OR mode = $mode)
  AND ($op IS NULL OR $op = 'search') AND ($status IS NULL OR status = $status)
  AND ($agent IS NULL OR agent_id = $agent)
