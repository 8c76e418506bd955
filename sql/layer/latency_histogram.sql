-- latency_histogram: how many calls fell in each log-latency bucket (50 per decade: stg_op_facts.hist_bucket),
-- per group: the latency distribution chart (folded to 10 per decade by memlens/layer.py) and the input of the
-- approximate percentiles over the daily histograms.
-- reads: latency
-- grain: one row per (group of the requested keys, hist_bucket) with at least one call.
-- columns: hist_bucket (INTEGER: latencies in [10^(b/250), 10^((b+1)/250)) ms), n (BIGINT calls),
--   sum_ms (DOUBLE milliseconds)
SELECT /*keys*/ hist_bucket, CAST(sum(n) AS BIGINT) AS n, sum(sum_ms) AS sum_ms
FROM latency
GROUP BY ALL
