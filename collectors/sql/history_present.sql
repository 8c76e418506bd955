-- How many rows of the registered batch `history_batch` one history DB already has: exactly one row, one column.
-- Parameter: ? (source_db, the DB's resolved path).
SELECT count(*) FROM raw_memory_history WHERE source_db = ? AND history_id IN (SELECT id FROM history_batch)
