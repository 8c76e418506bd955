-- Measured scale for the vector store advice: exactly one row.
-- Columns: net_all, net_30d (net new memories overall / last 30 days), search_p95_ms, window_days, held,
-- peak_ops_per_s. No parameters.
WITH span AS (SELECT max(ts) AS t1 FROM raw_op_events),
log AS (
    SELECT
        sum(coalesce(memories_created, 0) - coalesce(memories_deleted, 0)) AS net_all,
        sum(coalesce(memories_created, 0) - coalesce(memories_deleted, 0))
            FILTER (WHERE ts > (SELECT t1 FROM span) - INTERVAL 30 DAY) AS net_30d,
        quantile_cont(latency_ms, 0.95) FILTER (WHERE op = 'search' AND status = 'ok') AS search_p95_ms,
        least(30.0, (epoch(max(ts)) - epoch(min(ts))) / 86400.0) AS window_days
    FROM raw_op_events
),
snap AS (
    SELECT count(*) AS held FROM (
        SELECT memory_id FROM raw_memory_snapshots
        QUALIFY row_number() OVER (PARTITION BY memory_id ORDER BY taken_at DESC) = 1)
),
peak AS (
    SELECT max(n) / 60.0 AS peak_ops_per_s FROM (
        SELECT count(*) AS n FROM raw_op_events GROUP BY date_trunc('minute', ts))
)
SELECT log.net_all, log.net_30d, log.search_p95_ms, log.window_days, snap.held, peak.peak_ops_per_s
FROM log, snap, peak
