-- memory_history: memory_deltas from Mem0's history alone (stg_memory_deltas, no attribution joins): the cheap
-- input when no user or agent is asked for. Not filtered by time: the memories and bytes held at a moment count
-- every event before it, so the metrics apply $start / $end themselves.
-- provides: memory_deltas
-- filters:
-- keys: day week month
-- columns: every column of stg_memory_deltas
SELECT * FROM stg_memory_deltas
