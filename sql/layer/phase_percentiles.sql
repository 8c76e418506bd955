-- phase_percentiles: P50 / P95 of the time spent in each phase, over the selected calls that passed through it
-- (stg_op_phases' `ran`), per group: linear interpolation between the closest ranks, as latency_percentiles.
-- reads: phase_events
-- exact: yes
-- grain: one row per (group of the requested keys, phase) with at least one timed call; phase as in
--   stg_op_phases (memlens.schema.PHASES and 'other').
-- columns: phase (VARCHAR), ran_ops (BIGINT calls that passed through the phase), p50_ms, p95_ms (DOUBLE ms;
--   NULL when no call ran the phase)
SELECT /*keys*/ phase, ran_ops, q[1] AS p50_ms, q[2] AS p95_ms
FROM (
    SELECT /*keys*/ phase, count(*) FILTER (WHERE ran) AS ran_ops,
           quantile_cont(phase_ms, [0.5, 0.95]) FILTER (WHERE ran) AS q
    FROM phase_events
    GROUP BY ALL
)
