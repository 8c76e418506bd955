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
-- Moderate: the 'week' period of stg_memory_growth (stg_memory_events grouped three ways, then a window).
CREATE OR REPLACE VIEW metric_memory_growth_weekly AS
SELECT
    g.period_start AS week, g.level, g.entity_id,
    g.adds, g.updates, g.deletes, g.net_memories, g.bytes_added, g.net_bytes,
    g.memories, g.bytes, g.memories_growth, g.bytes_growth, g.demo_events,
    c.storage_growth_week_max,
    g.bytes_growth > c.storage_growth_week_max AS over_threshold
FROM stg_memory_growth AS g
CROSS JOIN cfg_settings AS c
WHERE g.period = 'week';
