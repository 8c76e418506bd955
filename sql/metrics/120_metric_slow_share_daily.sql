-- metric_slow_share_daily: share of slow operations (latency_ms > cfg_settings.slow_op_ms, default 200 ms)
-- per operation per UTC day, plus an overall row, against cfg_settings.slow_op_share_max (default 0.10).
-- grain: one row per (day, op); op = 'all' rows aggregate every op of that day.
-- columns:
--   day (DATE UTC), op (VARCHAR Mem0 op or 'all')
--   ops (BIGINT calls), slow_ops (BIGINT calls over the threshold), slow_share (DOUBLE slow_ops / ops, 0..1)
--   demo_events (BIGINT demo rows among ops)
--   slow_op_ms (DOUBLE threshold in milliseconds), slow_op_share_max (DOUBLE alert threshold, 0..1),
--   over_threshold (BOOLEAN slow_share > slow_op_share_max)
-- Cheap: one grouped scan of stg_op_events.
CREATE OR REPLACE VIEW metric_slow_share_daily AS
SELECT
    g.day, g.op, g.ops, g.slow_ops, g.slow_ops / g.ops AS slow_share, g.demo_events,
    c.slow_op_ms, c.slow_op_share_max,
    g.slow_ops / g.ops > c.slow_op_share_max AS over_threshold
FROM (
    SELECT
        day,
        coalesce(op, 'all') AS op,
        count(*) AS ops,
        count(*) FILTER (WHERE is_slow) AS slow_ops,
        count(*) FILTER (WHERE is_demo) AS demo_events
    FROM stg_op_events
    GROUP BY GROUPING SETS ((day, op), (day))
) AS g
CROSS JOIN cfg_settings AS c;
