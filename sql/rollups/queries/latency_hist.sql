-- latency_hist: agg_latency_hist_daily rows matching the filters (NULL parameter = no filter), summed per
-- bucket and requested group. params: $by_day, $by_service, $by_op (BOOLEAN group keys), $start, $end, $service, $op.
-- grain: one row per (day?, service?, op?, bucket). columns: day, service, op, bucket, n, sum_ms.
SELECT
    CASE WHEN $by_day THEN day END AS day,
    CASE WHEN $by_service THEN service END AS service,
    CASE WHEN $by_op THEN op END AS op,
    bucket, sum(n) AS n, sum(sum_ms) AS sum_ms
FROM agg_latency_hist_daily
WHERE ($start IS NULL OR day >= CAST($start AS DATE)) AND ($end IS NULL OR day < CAST($end AS DATE))
  AND ($service IS NULL OR service = $service) AND ($op IS NULL OR op = $op)
GROUP BY ALL
ORDER BY day, service, op, bucket
