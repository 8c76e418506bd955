-- phase_p95_typical: a phase's usual P95 over the selection: the median of its daily P95s (UTC days), over the days
-- on which at least $min_per_day calls ran it, so that one bad hour or day does not pass for a trend; NULL unless
-- the selection holds $min_calls calls that ran it. What the slow tree compares between the first and the last
-- quarter of a selection ("vector search P95 grew with collection size").
-- reads: phase_events
-- exact: yes
-- params: min_per_day min_calls
-- grain: one row per (group of the requested keys, phase) with at least one timed call.
-- columns: phase (VARCHAR), ran_ops (BIGINT calls that ran the phase), days (BIGINT days counted),
--   typical_p95_ms (DOUBLE median of the counted days' P95s, ms; quantile_cont as phase_percentiles)
SELECT /*keys*/ phase, CAST(sum(ran_ops) AS BIGINT) AS ran_ops,
       count(*) FILTER (WHERE ran_ops >= $min_per_day) AS days,
       CASE WHEN sum(ran_ops) >= $min_calls THEN median(day_p95_ms) FILTER (WHERE ran_ops >= $min_per_day) END
           AS typical_p95_ms
FROM (
    SELECT /*keys*/ phase, day, count(*) FILTER (WHERE ran) AS ran_ops,
           quantile_cont(phase_ms, 0.95) FILTER (WHERE ran) AS day_p95_ms
    FROM phase_events
    GROUP BY ALL
)
GROUP BY ALL
