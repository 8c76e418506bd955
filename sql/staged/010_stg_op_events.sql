-- stg_op_events: every loaded Mem0 operation with its time buckets and derived flags; the base of
-- every metric view, and what dashboard pages filter (time range, service, user, agent, op, model).
-- grain: one row per operation event (event_id), same rows as raw_op_events.
-- columns:
--   raw_op_events.* — every column of the raw table, unchanged (latency_ms in milliseconds, ts UTC)
--   day (DATE, UTC calendar day of ts), hour (TIMESTAMP, UTC, ts truncated to the hour),
--   week (DATE, UTC Monday starting the ISO week), month (DATE, UTC first day of the month)
--   is_error (BOOLEAN, status = 'error')
--   is_slow (BOOLEAN, latency_ms > cfg_settings.slow_op_ms, default 200 ms)
--   is_demo (BOOLEAN, demo with NULL read as false: synthetic rows from `memlens demo`)
--   effective_limit (INTEGER, results cap that applied = top_k; NULL when not recorded)
--   limit_ignored (BOOLEAN, OSS search/get_all called with `limit=`: mem0 2.2.1 ignores it, top_k applies)
--   has_user_scope, has_agent_scope, has_run_scope (BOOLEAN, id column set or key in filter_keys)
--   scope (VARCHAR, scoping entities joined by '+' in user/agent/run order, e.g. 'user+run', or 'none')
--   is_unscoped (BOOLEAN, scope = 'none': no user/agent/run scope at all)
--   rerank_requested (BOOLEAN, rerank with NULL read as false, mem0's default)
-- Cheap: a projection over raw_op_events plus one join to the one-row cfg_settings.
CREATE OR REPLACE VIEW stg_op_events AS
WITH scoped AS (
    SELECT
        r.*,
        (r.user_id IS NOT NULL OR coalesce(list_contains(r.filter_keys, 'user_id'), false)) AS has_user_scope,
        (r.agent_id IS NOT NULL OR coalesce(list_contains(r.filter_keys, 'agent_id'), false)) AS has_agent_scope,
        (r.run_id IS NOT NULL OR coalesce(list_contains(r.filter_keys, 'run_id'), false)) AS has_run_scope
    FROM raw_op_events AS r
)
SELECT
    s.*,
    CAST(s.ts AS DATE) AS day,
    date_trunc('hour', s.ts) AS hour,
    CAST(date_trunc('week', s.ts) AS DATE) AS week,
    CAST(date_trunc('month', s.ts) AS DATE) AS month,
    s.status = 'error' AS is_error,
    s.latency_ms > c.slow_op_ms AS is_slow,
    coalesce(s.demo, false) AS is_demo,
    s.top_k AS effective_limit,
    (s.mode = 'oss' AND s.op IN ('search', 'get_all') AND s."limit" IS NOT NULL) AS limit_ignored,
    coalesce(
        nullif(concat_ws('+',
            CASE WHEN s.has_user_scope THEN 'user' END,
            CASE WHEN s.has_agent_scope THEN 'agent' END,
            CASE WHEN s.has_run_scope THEN 'run' END), ''),
        'none') AS scope,
    NOT (s.has_user_scope OR s.has_agent_scope OR s.has_run_scope) AS is_unscoped,
    coalesce(s.rerank, false) AS rerank_requested
FROM scoped AS s
CROSS JOIN cfg_settings AS c;
