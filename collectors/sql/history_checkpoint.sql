-- Moves one history DB's checkpoint: one row of raw_ingest_checkpoints (insert or replace by source_file).
-- byte_offset holds the last SQLite rowid read, line_no the history rows held for this DB.
-- Parameters (positional): source_file, file_identity, last rowid, source_db (= source_file), size, mtime, now.
INSERT OR REPLACE INTO raw_ingest_checkpoints VALUES (?, ?, ?,
    (SELECT count(*) FROM raw_memory_history WHERE source_db = ?), ?, ?, NULL, ?)
