-- Successful writes that invalidate a user's cache: one row per add/update/delete/delete_all with a known user
-- (by-id writes take the user whose add returned the id). Columns: ts_ms, user_hash.
-- Parameters: $since, $until (timestamps or NULL: the window [since, until)).
WITH owner AS (
    SELECT memory_id, arg_min(user_id, ts) AS user_id
    FROM (SELECT unnest(result_ids) AS memory_id, user_id, ts FROM raw_op_events
          WHERE op = 'add' AND status = 'ok' AND user_id IS NOT NULL)
    GROUP BY memory_id
)
SELECT epoch_ms(w.ts) AS ts_ms, hash(coalesce(w.user_id, o.user_id)) AS user_hash
FROM stg_op_events AS w
LEFT JOIN owner AS o ON o.memory_id = w.memory_id
WHERE w.op IN ('add', 'update', 'delete', 'delete_all') AND w.status = 'ok'
  AND coalesce(w.user_id, o.user_id) IS NOT NULL
  AND ($since IS NULL OR w.ts >= $since) AND ($until IS NULL OR w.ts < $until)
