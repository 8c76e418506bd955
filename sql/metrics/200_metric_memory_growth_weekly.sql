-- metric_memory_growth_weekly: memories and bytes added, deleted and held over time, from Mem0's history store
-- (stg_memory_events), in total and per user and per agent where the memory could be attributed.
-- grain: one row per (week, level, entity_id) with at least one history event in that week:
--   level 'all'   = every memory (entity_id NULL);
--   level 'user'  = per user_id  (entity_id = user_id; NULL = memories that could not be attributed to a user);
--   level 'agent' = per agent_id (entity_id = agent_id; NULL = memories without an agent).
-- Periods without history events have no row (the cumulative columns carry over unchanged).
-- Growth rates compare the net change of the period with what was held at the end of the previous week:
--   memories_growth = net_memories / (memories - net_memories); NULL when nothing was held before.
-- columns:
--   week (DATE, UTC ISO week (DATE of its Monday)), level (VARCHAR all | user | agent), entity_id (VARCHAR)
--   adds, updates, deletes (BIGINT history events), net_memories (BIGINT adds - deletes)
--   bytes_added (BIGINT UTF-8 bytes of added texts), net_bytes (BIGINT bytes: added + updated delta - deleted)
--   memories, bytes (BIGINT held at the end of the period: cumulative sums since the first history event)
--   memories_growth, bytes_growth (DOUBLE ratio vs the end of the previous week, 0.1 = +10 %)
--   demo_events (BIGINT history events attributed to demo op-log rows)
--   storage_growth_week_max (DOUBLE alert threshold from config, ratio), over_threshold (BOOLEAN
--   bytes_growth > storage_growth_week_max)
-- Moderate: stg_memory_events (history joined to snapshots and op-log adds) grouped three ways, then a window.
CREATE OR REPLACE VIEW metric_memory_growth_weekly AS
WITH per_period AS (
    SELECT
        week,
        CASE WHEN GROUPING(user_id) = 0 THEN 'user' WHEN GROUPING(agent_id) = 0 THEN 'agent' ELSE 'all' END AS level,
        CASE WHEN GROUPING(user_id) = 0 THEN user_id WHEN GROUPING(agent_id) = 0 THEN agent_id END AS entity_id,
        count(*) FILTER (WHERE event = 'ADD') AS adds,
        count(*) FILTER (WHERE event = 'UPDATE') AS updates,
        count(*) FILTER (WHERE event = 'DELETE') AS deletes,
        CAST(sum(memories_delta) AS BIGINT) AS net_memories,
        CAST(coalesce(sum(bytes_delta) FILTER (WHERE event = 'ADD'), 0) AS BIGINT) AS bytes_added,
        CAST(sum(bytes_delta) AS BIGINT) AS net_bytes,
        count(*) FILTER (WHERE is_demo) AS demo_events
    FROM stg_memory_events
    GROUP BY GROUPING SETS ((week), (week, user_id), (week, agent_id))
),
held AS (
    SELECT
        *,
        CAST(sum(net_memories) OVER w AS BIGINT) AS memories,
        CAST(sum(net_bytes) OVER w AS BIGINT) AS bytes
    FROM per_period
    WINDOW w AS (PARTITION BY level, entity_id ORDER BY week ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT
    h.week, h.level, h.entity_id, h.adds, h.updates, h.deletes, h.net_memories, h.bytes_added, h.net_bytes,
    h.memories, h.bytes,
    h.net_memories / nullif(h.memories - h.net_memories, 0) AS memories_growth,
    h.net_bytes / nullif(h.bytes - h.net_bytes, 0) AS bytes_growth,
    h.demo_events,
    c.storage_growth_week_max,
    h.net_bytes / nullif(h.bytes - h.net_bytes, 0) > c.storage_growth_week_max AS over_threshold
FROM held AS h
CROSS JOIN cfg_settings AS c;
