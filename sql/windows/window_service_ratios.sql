-- window_service_ratios: per service, the share of failed calls and of calls slower than $slow_ms over each window of
-- $windows_steps, at every evaluation step from the service's first call to $end: the SLIs of the SLO burn-rate
-- alerts, as their recording rules compute them (failed / all, slower / all, each over its own set of calls).
-- grain: one row per (k, service, window_steps) whose window holds a call of either set.
-- columns:
--   k (BIGINT evaluation step: t = k * $step_s seconds since the epoch), t (TIMESTAMP UTC), service (VARCHAR)
--   window_steps (BIGINT the window in evaluation steps)
--   avail_ops, avail_errors (BIGINT calls of the availability set and its failures), error_ratio (DOUBLE, NULL
--   without calls)
--   latency_ops, latency_slow (BIGINT calls of the latency set and those slower than $slow_ms), slow_ratio (DOUBLE,
--   NULL without calls)
-- parameters: $step_s (DOUBLE evaluation interval, s), $windows_steps (BIGINT[] windows / interval), $slow_ms
--   (DOUBLE), $start (TIMESTAMP UTC, NULL = all history: calls from it on), $end (TIMESTAMP UTC), $matchers (alerts.selector), $avail_matchers, $latency_matchers (the SLOs' call
--   sets; all STRUCT(col VARCHAR, op VARCHAR, val VARCHAR)[], see macros.sql). Needs the macros of macros.sql.
-- Cost: one scan of stg_op_facts; per service a dense run of steps, each window a pair of ASOF joins against
-- running totals.
WITH calls AS (  -- the layer's additive measures (stg_op_facts)
    SELECT
        window_step(ts, $step_s) AS k, service, ops, errors, latency_ms,
        window_match($avail_matchers, service, mode, call_mode, op, window_infer(infer)) AS in_avail,
        window_match($latency_matchers, service, mode, call_mode, op, window_infer(infer)) AS in_latency
    FROM stg_op_facts
    WHERE window_match($matchers, service, mode, call_mode, op, window_infer(infer))
      AND window_step(ts, $step_s) <= window_step($end, $step_s) AND ($start IS NULL OR ts >= $start)
),
steps AS (
    SELECT
        k, service, coalesce(sum(ops) FILTER (WHERE in_avail), 0) AS a_ops,
        coalesce(sum(errors) FILTER (WHERE in_avail), 0) AS a_err,
        coalesce(sum(ops) FILTER (WHERE in_latency), 0) AS l_ops,
        count(*) FILTER (WHERE in_latency AND latency_ms > $slow_ms) AS l_slow
    FROM calls
    GROUP BY ALL
),
running AS (  -- totals up to and including step k
    SELECT
        k, service, sum(a_ops) OVER w AS a_ops, sum(a_err) OVER w AS a_err, sum(l_ops) OVER w AS l_ops,
        sum(l_slow) OVER w AS l_slow
    FROM steps
    WINDOW w AS (PARTITION BY service ORDER BY k)
),
evals AS (
    SELECT g.service, g.k, w.window_steps, g.k - w.window_steps AS k_before
    FROM (SELECT service, unnest(range(min(k), window_step($end, $step_s) + 1)) AS k FROM steps GROUP BY service) AS g
    CROSS JOIN (SELECT unnest($windows_steps) AS window_steps) AS w
),
totals AS (
    SELECT
        e.k, e.service, e.window_steps,
        n.a_ops - coalesce(b.a_ops, 0) AS avail_ops, n.a_err - coalesce(b.a_err, 0) AS avail_errors,
        n.l_ops - coalesce(b.l_ops, 0) AS latency_ops, n.l_slow - coalesce(b.l_slow, 0) AS latency_slow
    FROM evals AS e
    ASOF JOIN running AS n ON n.service = e.service AND n.k <= e.k
    ASOF LEFT JOIN running AS b ON b.service = e.service AND b.k <= e.k_before
)
SELECT
    k, make_timestamp(CAST(k * $step_s * 1000000 AS BIGINT)) AS t, service, window_steps,
    avail_ops, avail_errors, CASE WHEN avail_ops > 0 THEN avail_errors / avail_ops END AS error_ratio,
    latency_ops, latency_slow, CASE WHEN latency_ops > 0 THEN latency_slow / latency_ops END AS slow_ratio
FROM totals
WHERE avail_ops > 0 OR latency_ops > 0
ORDER BY service, window_steps, k
