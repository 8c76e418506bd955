-- Latest snapshot row of every memory not removed by a later op-log delete: one row per memory_id.
-- Columns: memory_id, user_id, agent_id, run_id, owner, text_bytes, text_hash, memory_text, created_at,
-- updated_at, taken_at. No parameters.
WITH latest AS (
    SELECT memory_id, user_id, agent_id, run_id, text_bytes, text_hash, memory_text, created_at, updated_at,
           taken_at
    FROM raw_memory_snapshots
    QUALIFY row_number() OVER (PARTITION BY memory_id ORDER BY taken_at DESC, snapshot_id DESC) = 1
),
deleted AS (
    SELECT memory_id, max(ts) AS deleted_at FROM raw_op_events
    WHERE op = 'delete' AND status = 'ok' AND memory_id IS NOT NULL GROUP BY memory_id
)
SELECT l.memory_id, l.user_id, l.agent_id, l.run_id,
       coalesce(l.user_id, l.agent_id, l.run_id, '') AS owner,
       coalesce(l.text_bytes, 0) AS text_bytes, l.text_hash, l.memory_text, l.created_at, l.updated_at, l.taken_at
FROM latest AS l
LEFT JOIN deleted AS d USING (memory_id)
WHERE d.deleted_at IS NULL OR d.deleted_at < l.taken_at
ORDER BY owner, l.created_at, l.memory_id
