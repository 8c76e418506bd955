-- SQLite: mem0 2.2.1's history table (mem0/memory/storage.py), so collectors read the demo DB like a real one.
-- One row per history event: id, memory_id, old_memory, new_memory, event, created_at, updated_at, is_deleted,
-- actor_id, role. No parameters.
CREATE TABLE IF NOT EXISTS history (
    id           TEXT PRIMARY KEY,
    memory_id    TEXT,
    old_memory   TEXT,
    new_memory   TEXT,
    event        TEXT,
    created_at   DATETIME,
    updated_at   DATETIME,
    is_deleted   INTEGER,
    actor_id     TEXT,
    role         TEXT
)
