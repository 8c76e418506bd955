-- The demo's memory store at the end of the window: every memory never deleted, with its owner and its latest
-- text (what Mem0's get_all would list), stored next to the history in demo-history.db (table demo_memories)
-- and loaded as a snapshot so growth and storage pages can attribute and size every memory.
-- Temp tables demo_history (made by demo_history.sql) and demo_mem.
-- columns: id, user_id, memory, created_at, updated_at.
SELECT
    h.memory_id AS id,
    demo_user_id(m.user_idx) AS user_id,
    arg_max(coalesce(h.new_memory, h.old_memory), h.updated_at) AS memory,
    min(h.created_at) AS created_at,
    max(h.updated_at) AS updated_at
FROM demo_history AS h
JOIN demo_mem AS m ON m.k = h.k
GROUP BY h.memory_id, m.user_idx
HAVING count(*) FILTER (WHERE h.event = 'DELETE') = 0
ORDER BY h.memory_id;
