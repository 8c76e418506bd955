-- SQLite: inserts one row into mem0's history table (mem0_history_ddl.sql).
-- Parameters: 10 positional ?, the columns of demo_history_rows.sql in order.
INSERT INTO history (id, memory_id, old_memory, new_memory, event, created_at, updated_at, is_deleted,
    actor_id, role) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
