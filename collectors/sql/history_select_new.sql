-- SQLite, on mem0's history DB: the history rows after the last rowid read, one row per row, in rowid order.
-- Columns: rowid, id, memory_id, event, old_bytes, new_bytes (UTF-8 sizes measured in SQLite via CAST AS BLOB,
-- so the texts are never fetched), created_at, updated_at, is_deleted (as stored: checked in Python), actor_id,
-- role. Text comes as bytes (the connection's text_factory): invalid UTF-8 is quarantined, not a crash.
-- Parameter: ? (last rowid).
SELECT rowid, CAST(id AS TEXT), CAST(memory_id AS TEXT), CAST(event AS TEXT), length(CAST(old_memory AS BLOB)),
       length(CAST(new_memory AS BLOB)), CAST(created_at AS TEXT), CAST(updated_at AS TEXT), is_deleted,
       CAST(actor_id AS TEXT), CAST(role AS TEXT)
FROM history WHERE rowid > ? ORDER BY rowid
