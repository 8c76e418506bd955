-- agg_latency_hist_daily: latency histograms per day, the rollup input of the metric layer's percentiles
-- (sql/layer/inputs/latency_hist_daily.sql, read by memlens/layer.py). Buckets are stg_op_facts.hist_bucket:
-- bucket b holds latencies in [10^(b/k), 10^((b+1)/k)) ms with k = memlens.rollups.HIST_PER_DECADE (250), so a
-- percentile read from them is off by less than a factor 10^(1/k) (< 0.93 %, interpolated).
-- grain: one row per (day, service, mode, op, hist_bucket) with at least one call.
-- columns:
--   day (DATE UTC), service, mode, op (VARCHAR)
--   hist_bucket (INTEGER log bucket index), n (BIGINT calls), sum_ms (DOUBLE milliseconds)
-- Refresh: one grouped scan of stg_op_facts from $since on (the day of the earliest new event:
-- older days are kept, see memlens.rollups.refresh).
CREATE OR REPLACE TABLE agg_latency_hist_daily AS
SELECT
    day, service, mode, op, hist_bucket,
    count(*) AS n,
    sum(latency_ms) AS sum_ms
FROM stg_op_facts
WHERE $since IS NULL OR ts >= $since  -- NULL: every day
GROUP BY ALL
ORDER BY day;
