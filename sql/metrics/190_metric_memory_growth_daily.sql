-- metric_memory_growth_daily: memories and bytes added, deleted and held over time, from Mem0's history store
-- (stg_memory_events), in total and per user and per agent where the memory could be attributed.
-- grain: one row per (day, level, entity_id) with at least one history event in that day:
--   level 'all'   = every memory (entity_id NULL);
--   level 'user'  = per user_id  (entity_id = user_id; NULL = memories that could not be attributed to a user);
--   level 'agent' = per agent_id (entity_id = agent_id; NULL = memories without an agent).
-- Periods without history events have no row (the cumulative columns carry over unchanged).
-- Growth rates compare the net change of the period with what was held at the end of the previous day:
--   memories_growth = net_memories / (memories - net_memories); NULL when nothing was held before.
-- columns:
--   day (DATE, UTC day), level (VARCHAR all | user | agent), entity_id (VARCHAR)
--   adds, updates, deletes (BIGINT history events), net_memories (BIGINT adds - deletes)
--   bytes_added (BIGINT UTF-8 bytes of added texts), net_bytes (BIGINT bytes: added + updated delta - deleted)
--   memories, bytes (BIGINT held at the end of the period: cumulative sums since the first history event)
--   memories_growth, bytes_growth (DOUBLE ratio vs the end of the previous day, 0.1 = +10 %)
--   demo_events (BIGINT history events attributed to demo op-log rows)
-- Moderate: the 'day' period of stg_memory_growth (stg_memory_events grouped three ways, then a window).
CREATE OR REPLACE VIEW metric_memory_growth_daily AS
SELECT
    period_start AS day, level, entity_id,
    adds, updates, deletes, net_memories, bytes_added, net_bytes,
    memories, bytes, memories_growth, bytes_growth, demo_events
FROM stg_memory_growth
WHERE period = 'day';
