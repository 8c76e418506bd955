-- SQLite: the demo's memory store next to its history (filled from demo_memories.sql), one row per memory.
-- Columns: id, user_id, memory, created_at, updated_at. No parameters.
CREATE TABLE IF NOT EXISTS demo_memories (
    id TEXT PRIMARY KEY, user_id TEXT, memory TEXT, created_at DATETIME, updated_at DATETIME
)
