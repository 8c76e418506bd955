-- cfg_settings: the config's scalar thresholds, rewritten from YAML at every connect.
-- grain: one row. columns: slow_op_ms, error_rate_max, cache_hit_target, low_cache_bands_* .
CREATE TABLE IF NOT EXISTS cfg_settings (
    slow_op_ms          DOUBLE NOT NULL,
    slow_op_share_max   DOUBLE NOT NULL,
    error_rate_max      DOUBLE NOT NULL,
    cache_hit_target    DOUBLE NOT NULL,
    storage_growth_week_max DOUBLE NOT NULL
);
