-- metric_prom_phases: the Prometheus-side view of where OSS calls spent their time (from raw_prom_samples, the
-- phase histogram memlens_mem0_phase_duration_seconds), to set next to the op log's (layer metric `phases`).
-- grain: (source_url, service, op, phase, ts).
-- columns: source_url, service, op, phase (VARCHAR, memlens.schema.PHASES), ts (UTC)
--   seconds_per_s (DOUBLE seconds spent in the phase per second of wall time over alerts.rate_window: summed over
--   concurrent calls, so stacked per op it is where the op's time went)
--   hist_p95_ms (DOUBLE P95 of the phase over the calls that ran it, as Prometheus' histogram_quantile gives it from
--   the buckets: another scope than the layer's exact phase_percentiles, hence the name; NULL when idle)
CREATE OR REPLACE VIEW metric_prom_phases AS
SELECT
    source_url,
    service,
    op,
    json_extract_string(labels, '$.phase') AS phase,
    ts,
    max(value) FILTER (WHERE query_name = 'phase_seconds_per_second') AS seconds_per_s,
    1000 * max(value) FILTER (WHERE query_name = 'phase_p95_seconds') AS hist_p95_ms
FROM raw_prom_samples
WHERE query_name IN ('phase_seconds_per_second', 'phase_p95_seconds') AND op IS NOT NULL
GROUP BY ALL;
