-- memory_growth: memories and bytes Mem0 holds over time, per $grain period (day | week | month), from its history
-- store (ADD +1 memory / +bytes, UPDATE +new-old bytes, DELETE -1 / -bytes), per group of the requested keys
-- (user_id / agent_id: memories attributed to them). Held totals count every event since the first one (events
-- before $start too); rows are shown from the period of $start on, up to $end.
-- reads: memory_deltas
-- ignores: service mode op status model tag
-- grain: one row per (group, period) with at least one history event.
-- columns:
--   bucket (TIMESTAMP UTC start of the period), adds, updates, deletes (BIGINT history events)
--   memories_delta (BIGINT adds - deletes), bytes_delta (BIGINT net bytes), bytes_added (BIGINT bytes of added texts)
--   memories, bytes (BIGINT held at the end of the period)
--   memories_growth, bytes_growth (DOUBLE the period's net change / what was held at the end of the previous
--   period with events, 0.1 = +10 %; NULL when nothing was held before)
SELECT * FROM (
    SELECT
        /*keys*/ bucket, adds, updates, deletes, memories_delta, bytes_delta, bytes_added, memories, bytes,
        memories_delta / nullif(memories - memories_delta, 0) AS memories_growth,
        bytes_delta / nullif(bytes - bytes_delta, 0) AS bytes_growth
    FROM (
        SELECT
            /*keys*/ bucket, adds, updates, deletes, memories_delta, bytes_delta, bytes_added,
            CAST(sum(memories_delta) OVER (/*partition by keys*/ ORDER BY bucket) AS BIGINT) AS memories,
            CAST(sum(bytes_delta) OVER (/*partition by keys*/ ORDER BY bucket) AS BIGINT) AS bytes
        FROM (
            SELECT
                /*keys*/ date_trunc($grain, event_ts) AS bucket,
                count(*) FILTER (WHERE event = 'ADD') AS adds,
                count(*) FILTER (WHERE event = 'UPDATE') AS updates,
                count(*) FILTER (WHERE event = 'DELETE') AS deletes,
                CAST(sum(memories_delta) AS BIGINT) AS memories_delta,
                CAST(sum(bytes_delta) AS BIGINT) AS bytes_delta,
                CAST(coalesce(sum(bytes_delta) FILTER (WHERE event = 'ADD'), 0) AS BIGINT) AS bytes_added
            FROM memory_deltas
            WHERE $end IS NULL OR event_ts < $end
            GROUP BY ALL
        )
    )
)
WHERE $start IS NULL OR bucket >= date_trunc($grain, CAST($start AS TIMESTAMP))
