-- agg_cache_lookups_hourly: the cacheable searches of stg_cache_lookups counted per hour, materialised by
-- memlens.rollups.refresh() so the cache-reuse figures ("could be served", sql/layer/cache_reuse.sql) do not
-- decide every search's could_be_served again on each page (a window and two as-of joins over every search:
-- ~14 s at 10M events on the 2-core box). A search's could_be_served depends only on the events before it, so the
-- counts of older days stay right when new events arrive and the refresh re-aggregates from their day on.
-- grain: one row per (hour, service, mode, status, agent_id). (User, model, tag filters: exact input.)
-- columns:
--   hour (TIMESTAMP UTC), day (DATE UTC), service, mode, status, agent_id (VARCHAR)
--   lookups, could_be_served_lookups, through_cache_lookups, could_be_served_through_cache_lookups (BIGINT
--   cacheable searches; of them could be served; looked up by a cache; both)
-- Refresh: one scan of stg_cache_lookups from $since on (the day of the earliest new event).
CREATE OR REPLACE TABLE agg_cache_lookups_hourly AS
SELECT
    date_trunc('hour', ts) AS hour, day, service, mode, status, agent_id,
    CAST(count(*) AS BIGINT) AS lookups,
    CAST(count(*) FILTER (WHERE could_be_served) AS BIGINT) AS could_be_served_lookups,
    CAST(count(*) FILTER (WHERE through_cache) AS BIGINT) AS through_cache_lookups,
    CAST(count(*) FILTER (WHERE through_cache AND could_be_served) AS BIGINT) AS could_be_served_through_cache_lookups
FROM stg_cache_lookups
WHERE $since IS NULL OR ts >= $since  -- NULL: every day
GROUP BY ALL
ORDER BY hour;
