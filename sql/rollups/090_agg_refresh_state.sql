-- agg_refresh_state: what the rollup tables were built from, so readers can tell whether they are current.
-- grain: one row (rewritten by every refresh).
-- columns: refreshed_at (TIMESTAMP UTC), raw_events (BIGINT rows of raw_op_events), last_ingested_at (TIMESTAMP
-- UTC newest ingested_at), settings_key (VARCHAR md5 of cfg_settings and cfg_prices, then a digest of sql/staged and
-- sql/rollups: changes with the config and with the definitions),
-- per_decade (INTEGER histogram buckets per decade), seconds (DOUBLE refresh duration, filled by refresh()).
-- Parameters: $settings_key (memlens.rollups.settings_key), $per_decade, $seconds.
CREATE OR REPLACE TABLE agg_refresh_state AS
SELECT
    CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP) AS refreshed_at,
    (SELECT count(*) FROM raw_op_events) AS raw_events,
    (SELECT max(ingested_at) FROM raw_op_events) AS last_ingested_at,
    CAST($settings_key AS VARCHAR) AS settings_key,
    CAST($per_decade AS INTEGER) AS per_decade,
    CAST($seconds AS DOUBLE) AS seconds;
