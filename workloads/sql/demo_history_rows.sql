-- DuckDB: the generated history (temp table demo_history, made by demo_history.sql), one row per event,
-- in the column order of mem0_history_insert.sql. No parameters.
SELECT id, memory_id, old_memory, new_memory, event, created_at, updated_at, is_deleted, actor_id, role
FROM demo_history
