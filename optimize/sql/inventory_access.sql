-- How the op log touched each memory (returned by search / get_all, read or changed by id): one row per memory_id.
-- Columns: memory_id, times_returned, best_top_score, last_access. No parameters.
WITH touched AS (
    SELECT unnest(result_ids) AS memory_id, ts, op, top_score FROM raw_op_events
    WHERE op IN ('search', 'get_all') AND status = 'ok' AND result_ids IS NOT NULL
    UNION ALL
    SELECT memory_id, ts, op, NULL AS top_score FROM raw_op_events
    WHERE op IN ('get', 'update', 'history') AND status = 'ok' AND memory_id IS NOT NULL
)
SELECT memory_id,
       count(*) FILTER (WHERE op = 'search') AS times_returned,
       max(top_score) FILTER (WHERE op = 'search') AS best_top_score,
       max(ts) AS last_access
FROM touched
GROUP BY memory_id
