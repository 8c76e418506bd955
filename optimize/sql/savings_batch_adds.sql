-- Single-message adds per user that could have been batched: one row per user with more adds than bursts.
-- A burst starts when the user's previous single add is more than $window seconds back.
-- Columns: user_id, single_adds, bursts, avg_add_ms, platform_adds, llm_adds (OSS adds that ran the LLM: each pays
-- Mem0's extraction prompt once). Parameter: $window (seconds).
WITH singles AS (
    SELECT user_id, ts, latency_ms, mode, mode = 'oss' AND coalesce(llm_input_tokens, 0) > 0 AS runs_llm,
           epoch(ts) - epoch(lag(ts) OVER (PARTITION BY user_id ORDER BY ts, event_id)) AS gap_s
    FROM stg_op_events
    WHERE op = 'add' AND status = 'ok' AND user_id IS NOT NULL AND coalesce(message_count, 1) <= 1
)
SELECT user_id, count(*) AS single_adds,
       count(*) FILTER (WHERE gap_s IS NULL OR gap_s > $window) AS bursts,
       avg(latency_ms) AS avg_add_ms,
       count(*) FILTER (WHERE mode = 'platform') AS platform_adds,
       count(*) FILTER (WHERE runs_llm) AS llm_adds
FROM singles GROUP BY 1 HAVING count(*) > count(*) FILTER (WHERE gap_s IS NULL OR gap_s > $window)
ORDER BY single_adds - bursts DESC
