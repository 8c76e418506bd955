-- cost_user_daily: cost_facts per user from the daily rollup agg_cost_user_daily: read for a user filter or a
-- per-user breakdown when the rollups are current and the time range falls on whole days.
-- provides: cost_facts
-- rollup: day
-- filters: user mode
-- keys: bucket day week month user_id mode
-- columns: every column of agg_cost_user_daily, bucket (TIMESTAMP UTC start of the $grain bucket)
SELECT *, CAST(date_trunc($grain, CAST(day AS TIMESTAMP)) AS TIMESTAMP) AS bucket
FROM agg_cost_user_daily
WHERE ($start IS NULL OR day >= CAST($start AS DATE)) AND ($end IS NULL OR day < CAST($end AS DATE))
  AND ($user IS NULL OR user_id = $user) AND ($mode IS NULL OR mode = $mode)
