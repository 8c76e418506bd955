-- settings_key: fingerprint of the config tables the rollups were priced/classified with.
-- grain: one row. columns: md5 (VARCHAR); a different value means the rollups must be rebuilt.
SELECT md5(coalesce(string_agg(k, '|' ORDER BY k), '')) FROM (
    SELECT CAST(s AS VARCHAR) AS k FROM cfg_settings AS s
    UNION ALL SELECT CAST(p AS VARCHAR) FROM cfg_prices AS p)
