-- metric_error_rate_daily: error rate per operation per UTC day, plus an overall row, against the alert
-- threshold cfg_settings.error_rate_max (defaults.yaml thresholds.error_rate, default 0.05).
-- grain: one row per (day, op); op = 'all' rows aggregate every op of that day.
-- columns:
--   day (DATE UTC), op (VARCHAR Mem0 op or 'all')
--   ops (BIGINT calls), errors (BIGINT status 'error' calls), error_rate (DOUBLE errors / ops, 0..1)
--   top_error_type (VARCHAR most frequent error_type among the errors, NULL when none)
--   demo_events (BIGINT demo rows among ops)
--   error_rate_max (DOUBLE config threshold, 0..1), over_threshold (BOOLEAN error_rate > error_rate_max)
-- Cheap: one grouped scan of stg_op_events.
CREATE OR REPLACE VIEW metric_error_rate_daily AS
SELECT
    g.day, g.op, g.ops, g.errors, g.errors / g.ops AS error_rate, g.top_error_type, g.demo_events,
    c.error_rate_max,
    g.errors / g.ops > c.error_rate_max AS over_threshold
FROM (
    SELECT
        day,
        coalesce(op, 'all') AS op,
        count(*) AS ops,
        count(*) FILTER (WHERE is_error) AS errors,
        mode(error_type) FILTER (WHERE is_error) AS top_error_type,
        count(*) FILTER (WHERE is_demo) AS demo_events
    FROM stg_op_events
    GROUP BY GROUPING SETS ((day, op), (day))
) AS g
CROSS JOIN cfg_settings AS c;
