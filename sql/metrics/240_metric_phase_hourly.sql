-- metric_phase_hourly: where the time of each operation went, per UTC hour: the phase breakdown per op over time.
-- Over the calls with phase timings only (stg_op_phases): `calls` says how many that is.
-- grain: one row per (hour, op, phase) with timed calls of that op in that hour; phase as in stg_op_phases
-- (the PHASES of memlens/schema.py and 'other').
-- columns:
--   hour (TIMESTAMP UTC), op (VARCHAR), phase (VARCHAR)
--   calls (BIGINT timed calls of the op in the hour), ran_calls (BIGINT of them that passed through the phase)
--   avg_ms (DOUBLE ms in the phase per timed call, 0 for calls that skipped it: the phases' avg_ms of an
--   (hour, op) add up to the calls' average latency, avg_latency_ms)
--   share (DOUBLE the phase's part of the calls' total latency, 0..1; the shares of an (hour, op) add up to 1)
--   p50_ms, p95_ms (DOUBLE percentiles of the phase over the calls that ran it; quantile_cont = numpy 'linear')
--   avg_latency_ms (DOUBLE average latency of the timed calls)
-- Cheap: one grouped scan of stg_op_phases.
CREATE OR REPLACE VIEW metric_phase_hourly AS
SELECT
    hour, op, phase,
    count(*) AS calls,
    count(*) FILTER (WHERE ran) AS ran_calls,
    avg(phase_ms) AS avg_ms,
    sum(phase_ms) / nullif(sum(latency_ms), 0) AS share,
    quantile_cont(phase_ms, 0.5) FILTER (WHERE ran) AS p50_ms,
    quantile_cont(phase_ms, 0.95) FILTER (WHERE ran) AS p95_ms,
    avg(latency_ms) AS avg_latency_ms
FROM stg_op_phases
GROUP BY hour, op, phase;
