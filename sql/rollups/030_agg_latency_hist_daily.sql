-- agg_latency_hist_daily: latency histograms per day for approximate percentiles over any filter on these
-- dimensions (memlens.rollups.latency_percentiles). Buckets are log-spaced: bucket b holds latencies in
-- [10^(b/k), 10^((b+1)/k)) ms with k = $per_decade buckets per decade (memlens.rollups.HIST_PER_DECADE),
-- so a percentile read from them is off by less than a factor 10^(1/k) (k = 50: < 4.7 %, interpolated).
-- grain: one row per (day, service, op, bucket) with at least one call.
-- columns:
--   day (DATE UTC), service, op (VARCHAR)
--   bucket (INTEGER log bucket index; latencies below 0.001 ms land in the 0.001 ms bucket)
--   n (BIGINT calls), sum_ms (DOUBLE milliseconds)
-- Refresh: one grouped scan of stg_op_events from $since on (the day of the earliest new event:
-- older days are kept, see memlens.rollups.refresh). Parameters: $per_decade, $since.
CREATE OR REPLACE TABLE agg_latency_hist_daily AS
SELECT
    day, service, op,
    CAST(floor(log10(greatest(latency_ms, 0.001)) * $per_decade) AS INTEGER) AS bucket,
    count(*) AS n,
    sum(latency_ms) AS sum_ms
FROM stg_op_events
WHERE $since IS NULL OR ts >= $since  -- NULL: every day
GROUP BY ALL
ORDER BY day;
