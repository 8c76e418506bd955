-- memory_attributed: memory_deltas attributed to a user / agent (stg_memory_events: history joined to snapshots
-- and op-log adds): read for a user or agent filter or key. Not filtered by time (see memory_history).
-- provides: memory_deltas
-- filters: user agent
-- keys: day week month user_id agent_id
-- columns: every column of stg_memory_events
SELECT * FROM stg_memory_events
WHERE ($user IS NULL OR user_id = $user) AND ($agent IS NULL OR agent_id = $agent)
