-- Moves one history DB's checkpoint: one row of raw_ingest_checkpoints (insert or replace by source_file).
-- byte_offset holds the last SQLite rowid read, line_no the history rows held for this DB, head_sha the anchor of
-- the rows read (history.py `_anchor`: tells the same table grown from a re-created or rewritten one).
-- Parameters (positional): source_file, file_identity, last rowid, source_db (= source_file), size, mtime,
-- anchor, now.
INSERT OR REPLACE INTO raw_ingest_checkpoints
    (source_file, file_identity, byte_offset, line_no, file_size, file_mtime, head_sha, updated_at)
VALUES (?, ?, ?, (SELECT count(*) FROM raw_memory_history WHERE source_db = ?), ?, ?, ?, ?)
