-- stg_cache_invalidations: the successful writes that drop cached searches, with the rules of the instrumented
-- SearchCache (instrumentation/wrap.py): add / delete_all with a user drop that user's keys; delete_all without
-- a user drops every key; update / delete drop the owner's keys (the call's user, else the user whose add,
-- search or get_all returned that memory id first). A cache holds one service's calls (in-process, or that
-- service's Redis), so an invalidation acts within its service. Takes effect when the write returns.
-- grain: one row per successful add / update / delete / delete_all that invalidates something (event_id).
-- columns:
--   event_id (VARCHAR), ts (TIMESTAMP UTC start), service (VARCHAR)
--   user_id (VARCHAR whose keys are dropped; NULL = every key of the service: delete_all by agent/run)
--   end_ns (BIGINT epoch nanoseconds when the write returned: ts + latency)
-- Cost: one scan of the writes; returned ids are unnested only for memories a by-id write touched without a user.
CREATE OR REPLACE VIEW stg_cache_invalidations AS
WITH writes AS (
    SELECT event_id, ts, service, op, user_id, memory_id,
           epoch_ns(ts) + CAST(round(latency_ms * 1e6) AS BIGINT) AS end_ns
    FROM raw_op_events
    WHERE op IN ('add', 'update', 'delete', 'delete_all') AND status = 'ok'
),
unowned AS (
    SELECT DISTINCT memory_id FROM writes
    WHERE op IN ('update', 'delete') AND user_id IS NULL AND memory_id IS NOT NULL
),
owner AS (
    SELECT r.memory_id, arg_min(r.user_id, r.ts) AS user_id
    FROM (SELECT unnest(result_ids) AS memory_id, user_id, ts FROM raw_op_events
          WHERE op IN ('add', 'search', 'get_all') AND status = 'ok' AND user_id IS NOT NULL
            AND result_ids IS NOT NULL AND EXISTS (SELECT 1 FROM unowned)) AS r
    SEMI JOIN unowned AS u ON u.memory_id = r.memory_id
    GROUP BY r.memory_id
)
SELECT w.event_id, w.ts, w.service,
       CASE WHEN w.op = 'delete_all' THEN w.user_id ELSE coalesce(w.user_id, o.user_id) END AS user_id,
       w.end_ns
FROM writes AS w
LEFT JOIN owner AS o ON o.memory_id = w.memory_id AND w.user_id IS NULL AND w.op IN ('update', 'delete')
WHERE w.op = 'delete_all' OR coalesce(w.user_id, o.user_id) IS NOT NULL;
