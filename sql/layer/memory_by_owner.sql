-- memory_by_owner: memories and bytes each owner (user, else agent) holds at $end, from Mem0's history attributed
-- through snapshots and op-log adds; largest first, at most $limit rows.
-- reads: memory_deltas
-- needs: user_id agent_id
-- ignores: service mode op status model tag
-- params: limit
-- grain: one row per owner (user_id, else agent_id, else '(unattributed)').
-- columns: owner (VARCHAR), memories, bytes (BIGINT held), adds, updates, deletes (BIGINT history events)
SELECT coalesce(user_id, agent_id, '(unattributed)') AS owner,
       CAST(sum(memories_delta) AS BIGINT) AS memories, CAST(sum(bytes_delta) AS BIGINT) AS bytes,
       count(*) FILTER (WHERE event = 'ADD') AS adds, count(*) FILTER (WHERE event = 'UPDATE') AS updates,
       count(*) FILTER (WHERE event = 'DELETE') AS deletes
FROM memory_deltas
WHERE $end IS NULL OR event_ts < $end
GROUP BY ALL
ORDER BY memories DESC, owner
LIMIT $limit
