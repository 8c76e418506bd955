-- phases: where the time of the selected operations went, per phase: the phase breakdown (per op over time with
-- keys bucket, op). Over the calls with phase timings only (OSS calls that reached Mem0; Platform calls, cache hits
-- and schema-v1 events have none and are not counted as zero): `calls` says how many that is.
-- reads: phase_facts
-- exact: yes
-- grain: one row per phase (memlens.schema.PHASES, and 'other': the rest of each call, Mem0's own Python between
-- the phases) per group of the requested keys (/*keys*/); the phase is always a group, never a key to ask for.
-- Rows in key order, then by phase name.
-- columns:
--   phase (VARCHAR), calls (BIGINT timed calls in the group), ran_calls (BIGINT of them that ran the phase)
--   avg_ms (DOUBLE ms in the phase per timed call, 0 for calls that skipped it: the phases of a group add up to
--   avg_latency_ms), share (DOUBLE the phase's part of the timed calls' latency, 0..1; a group's shares add up to 1)
--   p50_ms, p95_ms (DOUBLE percentiles of the phase over the calls that ran it; quantile_cont = numpy 'linear')
--   avg_latency_ms (DOUBLE average latency of the timed calls)
SELECT /*keys*/ phase,
    count(*) AS calls,
    count(*) FILTER (WHERE ran) AS ran_calls,
    avg(phase_ms) AS avg_ms,
    sum(phase_ms) / nullif(sum(latency_ms), 0) AS share,
    quantile_cont(phase_ms, 0.5) FILTER (WHERE ran) AS p50_ms,
    quantile_cont(phase_ms, 0.95) FILTER (WHERE ran) AS p95_ms,
    avg(latency_ms) AS avg_latency_ms
FROM phase_facts
GROUP BY ALL
ORDER BY ALL
