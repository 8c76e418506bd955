-- window_op_figures: the per-operation figures of the alert rules over a sliding window at every evaluation step
-- whose window holds a call, computed as Prometheus computes them from the memlens metrics: the window
-- (t - window, t] of each evaluation time t, percentiles by histogram_quantile over the instrumentation's latency
-- buckets (NOT the exact order statistic of the metric layer's latency_percentiles: hence the hist_ prefix). Reads
-- the layer's additive measures (stg_op_facts) and sums them over each window: error rate = sum(errors) / sum(ops)
-- as in sql/layer/ops.sql, over (t - window, t] instead of a calendar bucket.
-- grain: one row per (k, service, op, infer) with at least one call in the window, up to $end.
-- columns:
--   k (BIGINT evaluation step: t = k * $step_s seconds since the epoch), t (TIMESTAMP UTC evaluation time)
--   service, op (VARCHAR), infer (VARCHAR the metric label: 'true'/'false' on adds, '' elsewhere)
--   ops, errors (BIGINT calls and failed calls in the window), error_rate (DOUBLE errors / ops)
--   avg_ms (DOUBLE mean latency, ms)
--   hist_p50_ms, hist_p95_ms, hist_p99_ms (DOUBLE ms, histogram_quantile of the window's bucket counts)
--   slow_ops (BIGINT calls slower than $slow_ms), slow_share (DOUBLE slow_ops / ops)
--   cache_hits, cache_lookups (BIGINT cache = 'hit', cache in ('hit', 'miss')), cache_hit_rate (DOUBLE, NULL
--   without lookups)
-- parameters: $step_s (DOUBLE evaluation interval, s), $window_steps (BIGINT window / interval),
--   $edges_ms (DOUBLE[] 0, the finite bucket bounds ascending, the last bound again: bucket b is
--   (edges[b], edges[b + 1]], the last one +Inf), $slow_ms (DOUBLE), $start (TIMESTAMP UTC, NULL = all history: calls from it on), $end (TIMESTAMP UTC: last evaluation at or
--   before it), $matchers (STRUCT(col VARCHAR, op VARCHAR, val VARCHAR)[] on service, mode, call_mode, op, infer:
--   the rule file's alerts.selector). Needs the macros of macros.sql.
-- Cost: one scan of stg_op_facts; per-step groups, each joined to $window_steps offsets.
WITH selected AS (  -- the layer's additive measures (stg_op_facts), summed over each window below
    SELECT window_step(ts, $step_s) AS k, service, op, window_infer(infer) AS infer, latency_ms, ops, errors, sum_ms,
           hits, misses
    FROM stg_op_facts
    WHERE window_match($matchers, service, mode, call_mode, op, window_infer(infer))
      AND window_step(ts, $step_s) <= window_step($end, $step_s) AND ($start IS NULL OR ts >= $start)
),
series AS (  -- a small integer per (service, op, infer): the groupings below hash integers, not strings
    SELECT service, op, infer, row_number() OVER () AS sid FROM (SELECT DISTINCT service, op, infer FROM selected)
),
steps AS (
    SELECT
        c.k, s.sid, sum(c.ops) AS ops, sum(c.errors) AS errors, sum(c.sum_ms) AS sum_ms,
        count(*) FILTER (WHERE c.latency_ms > $slow_ms) AS slow_ops,  -- the scope's own bound, not cfg_settings'
        sum(c.hits) AS hits, sum(c.hits) + sum(c.misses) AS lookups,
        -- the bucket of every call: b with edges[b] < latency <= edges[b + 1]
        list(len(list_filter($edges_ms[2:-1], lambda e: e < c.latency_ms)) + 1) AS buckets
    FROM selected AS c JOIN series AS s USING (service, op, infer)
    GROUP BY ALL
),
windowed AS (  -- every evaluation step sees the steps (k - window, k]
    SELECT
        s.k + r.j AS k, sid, sum(ops) AS ops, sum(errors) AS errors, sum(sum_ms) AS sum_ms,
        sum(slow_ops) AS slow_ops, sum(hits) AS hits, sum(lookups) AS lookups,
        list_sort(flatten(list(buckets))) AS buckets
    FROM steps AS s CROSS JOIN range($window_steps) AS r(j)
    WHERE s.k + r.j <= window_step($end, $step_s)
    GROUP BY ALL
)
SELECT
    w.k, make_timestamp(CAST(w.k * $step_s * 1000000 AS BIGINT)) AS t, s.service, s.op, s.infer,
    w.ops, w.errors, w.errors / w.ops AS error_rate, w.sum_ms / w.ops AS avg_ms,
    window_hist_quantile($edges_ms, w.buckets, 0.5) AS hist_p50_ms,
    window_hist_quantile($edges_ms, w.buckets, 0.95) AS hist_p95_ms,
    window_hist_quantile($edges_ms, w.buckets, 0.99) AS hist_p99_ms,
    w.slow_ops, w.slow_ops / w.ops AS slow_share,
    w.hits AS cache_hits, w.lookups AS cache_lookups, CASE WHEN w.lookups > 0 THEN w.hits / w.lookups END AS cache_hit_rate
FROM windowed AS w
JOIN series AS s USING (sid)
ORDER BY s.service, s.op, s.infer, w.k
