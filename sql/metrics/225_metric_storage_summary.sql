-- metric_storage_summary: memories and bytes Mem0 holds now and how fast that grew, from its history store.
-- grain: exactly one row (NULLs without history).
-- columns:
--   last_event_ts (TIMESTAMP UTC latest history event), memories, bytes (BIGINT held after it)
--   bytes_month_ago, bytes_week_ago (BIGINT held 30 / 7 days before last_event_ts)
--   storage_growth_month (DOUBLE ratio (bytes - bytes_month_ago) / bytes_month_ago; NULL when nothing was held
--   30 days earlier), storage_growth_week (DOUBLE the same over 7 days; alert threshold
--   thresholds.storage_growth_per_week)
-- Cheap: one scan of stg_memory_deltas (history only, no attribution joins).
CREATE OR REPLACE VIEW metric_storage_summary AS
SELECT
    last_event_ts, memories, bytes, bytes_month_ago, bytes_week_ago,
    (bytes - bytes_month_ago) / nullif(bytes_month_ago, 0) AS storage_growth_month,
    (bytes - bytes_week_ago) / nullif(bytes_week_ago, 0) AS storage_growth_week
FROM (
    SELECT
        max(last_ts) AS last_event_ts,
        CAST(sum(memories_delta) AS BIGINT) AS memories,
        CAST(sum(bytes_delta) AS BIGINT) AS bytes,
        CAST(sum(bytes_delta) FILTER (WHERE event_ts <= last_ts - INTERVAL 30 DAY) AS BIGINT) AS bytes_month_ago,
        CAST(sum(bytes_delta) FILTER (WHERE event_ts <= last_ts - INTERVAL 7 DAY) AS BIGINT) AS bytes_week_ago
    FROM (SELECT *, max(event_ts) OVER () AS last_ts FROM stg_memory_deltas)
);
