-- The op events one load-test run logged: one row per event.
-- Columns: op, status, user_id, memory_id, query_hash, result_ids. Parameter: ? (the run's tag).
SELECT op, status, user_id, memory_id, query_hash, result_ids
FROM raw_op_events WHERE tag = ?
