-- failed_ops: the selected calls that failed (status 'error'), newest first, with what failed and for whom: a
-- listing of calls, not a figure (the error rate is ops.error_rate); at most $limit rows.
-- reads: op_facts
-- exact: yes
-- params: limit
-- grain: one row per failed operation event.
-- columns: ts (TIMESTAMP UTC), op, service, mode, error_type (VARCHAR), latency_ms (DOUBLE ms), user_id, agent_id,
--   cache, event_id
SELECT ts, op, service, mode, error_type, latency_ms, user_id, agent_id, cache, event_id
FROM op_facts
WHERE errors = 1
ORDER BY ts DESC, event_id
LIMIT $limit
