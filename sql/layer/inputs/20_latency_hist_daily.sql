-- latency_hist_daily: latency as the daily histograms agg_latency_hist_daily (n calls per hist_bucket): counts per
-- bucket are exact; percentiles read from it (on large warehouses, dashboard.exact_percentile_max_events) are
-- within memlens.rollups.MAX_RELATIVE_ERROR of the exact ones. Read when the rollups are current, the time range
-- falls on whole days and the filters are among its dimensions.
-- provides: latency
-- rollup: day
-- filters: service mode op
-- keys: bucket day service mode op
-- columns: every column of agg_latency_hist_daily, bucket (TIMESTAMP UTC start of the $grain bucket)
SELECT *, CAST(date_trunc($grain, CAST(day AS TIMESTAMP)) AS TIMESTAMP) AS bucket
FROM agg_latency_hist_daily
WHERE ($start IS NULL OR day >= CAST($start AS DATE)) AND ($end IS NULL OR day < CAST($end AS DATE))
  AND ($service IS NULL OR service = $service) AND ($mode IS NULL OR mode = $mode)
  AND ($op IS NULL OR op = $op)
