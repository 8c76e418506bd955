-- stg_memory_events: Mem0's history events (ADD/UPDATE/DELETE) with their size effect, attributed to a
-- user/agent/run where possible. The history store has no entity columns, so memory_id is joined to
-- (1) its row in the latest snapshot that holds it (raw_memory_snapshots), else (2) the earliest op-log
-- `add` event whose result_ids contain it (raw_op_events), else (3) the earliest op-log call that targeted it
-- by memory_id with an entity id set (get/update/delete/history of memories added before logging started);
-- otherwise the entity columns stay NULL.
-- grain: one row per history event (source_db, history_id).
-- columns:
--   every column of stg_memory_deltas (source_db, history_id, memory_id, event, actor_id, role, event_ts, day,
--   week, month, old_memory_bytes, new_memory_bytes, memories_delta, bytes_delta), then
--   user_id, agent_id, run_id (VARCHAR, attributed entity ids, NULL when unknown)
--   attributed_by (VARCHAR 'snapshot' | 'oplog', NULL when unattributed)
--   is_demo (BOOLEAN, the op-log event that attributes it (add, else targeting call) was a demo row; false otherwise)
-- Moderate: unnests result_ids of add events (one row per memory created) once per query.
CREATE OR REPLACE VIEW stg_memory_events AS
WITH snap AS (
    SELECT memory_id, user_id, agent_id, run_id
    FROM raw_memory_snapshots
    QUALIFY row_number() OVER (PARTITION BY memory_id ORDER BY taken_at DESC, snapshot_id DESC) = 1
),
added AS (
    SELECT memory_id, user_id, agent_id, run_id, is_demo
    FROM (
        SELECT unnest(result_ids) AS memory_id, user_id, agent_id, run_id,
               coalesce(demo, false) AS is_demo, ts, event_id
        FROM raw_op_events
        WHERE op = 'add' AND status = 'ok' AND result_ids IS NOT NULL
    )
    QUALIFY row_number() OVER (PARTITION BY memory_id ORDER BY ts, event_id) = 1
),
targeted AS (
    SELECT memory_id, user_id, agent_id, run_id, coalesce(demo, false) AS is_demo
    FROM raw_op_events
    WHERE memory_id IS NOT NULL AND (user_id IS NOT NULL OR agent_id IS NOT NULL OR run_id IS NOT NULL)
    QUALIFY row_number() OVER (PARTITION BY memory_id ORDER BY ts, event_id) = 1
)
SELECT
    h.*,
    CASE WHEN s.memory_id IS NOT NULL THEN s.user_id WHEN a.memory_id IS NOT NULL THEN a.user_id ELSE t.user_id END
        AS user_id,
    CASE WHEN s.memory_id IS NOT NULL THEN s.agent_id WHEN a.memory_id IS NOT NULL THEN a.agent_id ELSE t.agent_id END
        AS agent_id,
    CASE WHEN s.memory_id IS NOT NULL THEN s.run_id WHEN a.memory_id IS NOT NULL THEN a.run_id ELSE t.run_id END
        AS run_id,
    CASE WHEN s.memory_id IS NOT NULL THEN 'snapshot' WHEN coalesce(a.memory_id, t.memory_id) IS NOT NULL THEN 'oplog'
        END AS attributed_by,
    coalesce(a.is_demo, t.is_demo, false) AS is_demo
FROM stg_memory_deltas AS h
LEFT JOIN snap AS s ON s.memory_id = h.memory_id
LEFT JOIN added AS a ON a.memory_id = h.memory_id
LEFT JOIN targeted AS t ON t.memory_id = h.memory_id;
