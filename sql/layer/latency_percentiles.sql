-- latency_percentiles: P50 / P95 / P99 latency of the selected calls (ok and error), per group: linear
-- interpolation between the closest ranks (DuckDB quantile_cont = numpy.percentile's default = ClickHouse
-- quantileExactInclusive). Over the daily histograms (input latency_hist_daily) memlens/layer.py computes the
-- same percentiles from latency_histogram instead (memlens.rollups.grouped_percentiles: relative error below
-- memlens.rollups.MAX_RELATIVE_ERROR). The one engine-specific function of the layer lives here.
-- reads: latency
-- exact: yes
-- grain: one row per group of the requested keys (/*keys*/); one row without keys.
-- columns: p50_ms, p95_ms, p99_ms (DOUBLE milliseconds; NULL without calls)
SELECT /*keys*/ q[1] AS p50_ms, q[2] AS p95_ms, q[3] AS p99_ms
FROM (
    SELECT /*keys*/ quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS q
    FROM latency
    GROUP BY ALL
)
