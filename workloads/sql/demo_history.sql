-- Rows of the demo Mem0 history store (same columns as mem0's SQLite `history` table) consistent with the
-- demo op log: an ADD per memory (backlog ones before the window), an UPDATE per successful update (update
-- calls and infer adds that updated a memory), a DELETE per successful delete. Times are ISO 8601 UTC, as
-- mem0 writes them (event time = updated_at; created_at = the memory's birth for UPDATE/DELETE).
-- Creates temp table demo_history from temp tables demo_ev, demo_mem; macros demo_macros.sql. Parameter: $seed.
-- columns: id, memory_id, old_memory, new_memory, event, created_at, updated_at, is_deleted, actor_id, role (the
-- mem0 columns, in its order), k (BIGINT the demo's memory index, for demo_memories.sql).
CREATE OR REPLACE TEMP TABLE demo_history AS
WITH changes AS (
    SELECT e.i, e.target AS k, e.ts_us, CASE WHEN e.op = 'delete' THEN 'DELETE' ELSE 'UPDATE' END AS event
    FROM demo_ev AS e
    WHERE e.target >= 0 AND e.ok AND (e.op IN ('update', 'delete') OR (e.op = 'add' AND e.updated = 1))
),
versioned AS (
    SELECT c.*, count(*) FILTER (WHERE c.event = 'UPDATE') OVER (
        PARTITION BY c.k ORDER BY c.ts_us, c.i ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS v
    FROM changes AS c
),
rows AS (
    SELECT 'ADD' AS event, m.k, -1 AS i, m.ts_us, m.ts_us AS birth_us, NULL AS old_memory,
           demo_memory_text(m.k, 0) AS new_memory, 0 AS is_deleted
    FROM demo_mem AS m
    UNION ALL
    SELECT v.event, v.k, v.i, v.ts_us, m.ts_us,
           demo_memory_text(v.k, CASE WHEN v.event = 'UPDATE' THEN v.v - 1 ELSE v.v END),
           CASE WHEN v.event = 'UPDATE' THEN demo_memory_text(v.k, v.v) END,
           CASE WHEN v.event = 'DELETE' THEN 1 ELSE 0 END
    FROM versioned AS v
    JOIN demo_mem AS m ON m.k = v.k
)
SELECT
    demo_uuid('memlens-demo-history-' || $seed || '-' || r.event || '-' || r.k || '-' || r.i) AS id,
    demo_memory_id($seed, r.k) AS memory_id,
    r.old_memory, r.new_memory, r.event,
    strftime(demo_ts(r.birth_us), '%Y-%m-%dT%H:%M:%S.%f+00:00') AS created_at,
    strftime(demo_ts(r.ts_us), '%Y-%m-%dT%H:%M:%S.%f+00:00') AS updated_at,
    r.is_deleted, NULL AS actor_id, CASE WHEN r.event = 'ADD' THEN 'user' END AS role,
    r.k
FROM rows AS r
ORDER BY r.ts_us, r.k;
