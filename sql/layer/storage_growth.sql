-- storage_growth: memories and bytes Mem0 holds at the end of the selection (its latest history event before
-- $end) and how fast that grew: the one definition of storage growth. Per month = (held now - held 30 days
-- earlier) / held 30 days earlier; with less than 30 days of history it is NULL and the estimate is given
-- instead: the 7-day growth scaled to a month (x 30 / 7), labelled as an estimate wherever it shows.
-- reads: memory_deltas
-- ignores: service mode op status model tag
-- grain: exactly one row (NULLs without history).
-- columns:
--   as_of (TIMESTAMP UTC latest history event before $end), history_days (DOUBLE days from the first event)
--   memories, bytes (BIGINT held at as_of), memories_week_ago, bytes_week_ago, memories_month_ago,
--   bytes_month_ago (BIGINT held 7 / 30 days before as_of; NULL when the history starts later)
--   storage_growth_week, storage_growth_month (DOUBLE bytes growth over 7 / 30 days, 0.1 = +10 %)
--   storage_growth_month_estimate (DOUBLE storage_growth_week x 30 / 7, only when storage_growth_month is NULL)
--   memories_growth_week, memories_growth_month, memories_growth_month_estimate (DOUBLE the same for memories)
SELECT
    as_of, history_days, memories, bytes, memories_week_ago, bytes_week_ago, memories_month_ago, bytes_month_ago,
    (bytes - bytes_week_ago) / nullif(bytes_week_ago, 0) AS storage_growth_week,
    (bytes - bytes_month_ago) / nullif(bytes_month_ago, 0) AS storage_growth_month,
    CASE WHEN bytes_month_ago IS NULL THEN (bytes - bytes_week_ago) / nullif(bytes_week_ago, 0) * 30.0 / 7 END
        AS storage_growth_month_estimate,
    (memories - memories_week_ago) / nullif(memories_week_ago, 0) AS memories_growth_week,
    (memories - memories_month_ago) / nullif(memories_month_ago, 0) AS memories_growth_month,
    CASE WHEN memories_month_ago IS NULL
         THEN (memories - memories_week_ago) / nullif(memories_week_ago, 0) * 30.0 / 7 END
        AS memories_growth_month_estimate
FROM (
    SELECT
        max(last_ts) AS as_of,
        (epoch(max(last_ts)) - epoch(min(event_ts))) / 86400.0 AS history_days,
        CAST(sum(memories_delta) AS BIGINT) AS memories,
        CAST(sum(bytes_delta) AS BIGINT) AS bytes,
        CAST(sum(memories_delta) FILTER (WHERE event_ts <= last_ts - INTERVAL 7 DAY) AS BIGINT) AS memories_week_ago,
        CAST(sum(bytes_delta) FILTER (WHERE event_ts <= last_ts - INTERVAL 7 DAY) AS BIGINT) AS bytes_week_ago,
        CAST(sum(memories_delta) FILTER (WHERE event_ts <= last_ts - INTERVAL 30 DAY) AS BIGINT) AS memories_month_ago,
        CAST(sum(bytes_delta) FILTER (WHERE event_ts <= last_ts - INTERVAL 30 DAY) AS BIGINT) AS bytes_month_ago
    FROM (
        SELECT *, max(event_ts) OVER () AS last_ts
        FROM memory_deltas
        WHERE $end IS NULL OR event_ts < $end
    )
)
