-- stg_memory_growth: memories and bytes added, deleted and held per UTC day and per UTC ISO week, from Mem0's
-- history store (stg_memory_events), in total and per user and per agent where the memory could be attributed;
-- stated once for metric_memory_growth_daily and metric_memory_growth_weekly, which each read one period.
-- grain: one row per (period, period_start, level, entity_id) with at least one history event in that period:
--   level 'all'   = every memory (entity_id NULL);
--   level 'user'  = per user_id  (entity_id = user_id; NULL = memories that could not be attributed to a user);
--   level 'agent' = per agent_id (entity_id = agent_id; NULL = memories without an agent).
-- Periods without history events have no row (the cumulative columns carry over unchanged).
-- Growth rates compare the net change of the period with what was held at the end of the previous period:
--   memories_growth = net_memories / (memories - net_memories); NULL when nothing was held before.
-- columns:
--   period (VARCHAR day | week), period_start (DATE, UTC day or the Monday of the UTC ISO week)
--   level (VARCHAR all | user | agent), entity_id (VARCHAR)
--   adds, updates, deletes (BIGINT history events), net_memories (BIGINT adds - deletes)
--   bytes_added (BIGINT UTF-8 bytes of added texts), net_bytes (BIGINT bytes: added + updated delta - deleted)
--   memories, bytes (BIGINT held at the end of the period: cumulative sums since the first history event)
--   memories_growth, bytes_growth (DOUBLE ratio vs the end of the previous period, 0.1 = +10 %)
--   demo_events (BIGINT history events attributed to demo op-log rows)
-- Moderate: stg_memory_events (history joined to snapshots and op-log adds) grouped three ways, then a window.
-- A filter on period is pushed into the period list, so a view reading one period groups its events once.
CREATE OR REPLACE VIEW stg_memory_growth AS
WITH per_period AS (
    SELECT
        p.period,
        CASE p.period WHEN 'day' THEN e.day ELSE e.week END AS period_start,
        CASE WHEN GROUPING(e.user_id) = 0 THEN 'user' WHEN GROUPING(e.agent_id) = 0 THEN 'agent' ELSE 'all' END
            AS level,
        CASE WHEN GROUPING(e.user_id) = 0 THEN e.user_id WHEN GROUPING(e.agent_id) = 0 THEN e.agent_id END
            AS entity_id,
        count(*) FILTER (WHERE e.event = 'ADD') AS adds,
        count(*) FILTER (WHERE e.event = 'UPDATE') AS updates,
        count(*) FILTER (WHERE e.event = 'DELETE') AS deletes,
        CAST(sum(e.memories_delta) AS BIGINT) AS net_memories,
        CAST(coalesce(sum(e.bytes_delta) FILTER (WHERE e.event = 'ADD'), 0) AS BIGINT) AS bytes_added,
        CAST(sum(e.bytes_delta) AS BIGINT) AS net_bytes,
        count(*) FILTER (WHERE e.is_demo) AS demo_events
    FROM stg_memory_events AS e
    CROSS JOIN (VALUES ('day'), ('week')) AS p (period)
    GROUP BY GROUPING SETS (
        (period, period_start), (period, period_start, e.user_id), (period, period_start, e.agent_id))
),
held AS (
    SELECT
        *,
        CAST(sum(net_memories) OVER w AS BIGINT) AS memories,
        CAST(sum(net_bytes) OVER w AS BIGINT) AS bytes
    FROM per_period
    WINDOW w AS (PARTITION BY period, level, entity_id ORDER BY period_start
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT
    period, period_start, level, entity_id, adds, updates, deletes, net_memories, bytes_added, net_bytes,
    memories, bytes,
    net_memories / nullif(memories - net_memories, 0) AS memories_growth,
    net_bytes / nullif(bytes - net_bytes, 0) AS bytes_growth,
    demo_events
FROM held;
