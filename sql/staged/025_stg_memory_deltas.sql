-- stg_memory_deltas: Mem0's history events (ADD/UPDATE/DELETE) with their time buckets and size effect, without
-- attribution (cheap: one projection of raw_memory_history); stg_memory_events adds the owners.
-- grain: one row per history event (source_db, history_id).
-- columns:
--   source_db, history_id, memory_id, event (ADD | UPDATE | DELETE), actor_id, role (VARCHAR, as Mem0 wrote)
--   event_ts (TIMESTAMP UTC), day (DATE UTC), week (DATE UTC Monday of the ISO week), month (DATE UTC)
--   old_memory_bytes, new_memory_bytes (INTEGER bytes, UTF-8 size of the text before/after)
--   memories_delta (INTEGER memories: ADD +1, DELETE -1, UPDATE 0)
--   bytes_delta (BIGINT bytes: ADD +new, UPDATE new - old, DELETE -old)
CREATE OR REPLACE VIEW stg_memory_deltas AS
SELECT
    h.source_db, h.history_id, h.memory_id, h.event, h.actor_id, h.role,
    h.event_ts,
    CAST(h.event_ts AS DATE) AS day,
    CAST(date_trunc('week', h.event_ts) AS DATE) AS week,
    CAST(date_trunc('month', h.event_ts) AS DATE) AS month,
    h.old_memory_bytes, h.new_memory_bytes,
    CASE h.event WHEN 'ADD' THEN 1 WHEN 'DELETE' THEN -1 ELSE 0 END AS memories_delta,
    CAST(CASE h.event
        WHEN 'ADD' THEN coalesce(h.new_memory_bytes, 0)
        WHEN 'UPDATE' THEN coalesce(h.new_memory_bytes, 0) - coalesce(h.old_memory_bytes, 0)
        WHEN 'DELETE' THEN -coalesce(h.old_memory_bytes, 0)
        ELSE 0 END AS BIGINT) AS bytes_delta
FROM raw_memory_history AS h;
