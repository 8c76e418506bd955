-- How many vectors the store holds, for the vector store advice: exactly one row.
-- Columns: net_all (net memories the op log created: created - deleted), held (memories in the latest snapshot of
-- each). Growth, search latency and peak throughput are the metric layer's figures. No parameters.
WITH log AS (
    SELECT sum(coalesce(memories_created, 0) - coalesce(memories_deleted, 0)) AS net_all
    FROM raw_op_events
),
snap AS (
    SELECT count(*) AS held FROM (
        SELECT memory_id FROM raw_memory_snapshots
        QUALIFY row_number() OVER (PARTITION BY memory_id ORDER BY taken_at DESC) = 1)
)
SELECT log.net_all, snap.held
FROM log, snap
