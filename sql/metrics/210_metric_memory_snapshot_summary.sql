-- metric_memory_snapshot_summary: what each user holds now, from the latest snapshot that contains the user's
-- memories (raw_memory_snapshots; a snapshot may cover only some users, so "latest" is chosen per user).
-- grain: one row per user_id (NULL = memories stored without a user_id).
-- columns:
--   user_id (VARCHAR), snapshot_id (VARCHAR), taken_at (TIMESTAMP UTC), source (VARCHAR oss | platform)
--   memories (BIGINT), agents (BIGINT distinct agent_id among them)
--   total_bytes (BIGINT UTF-8 bytes of the texts), avg_bytes, max_bytes (DOUBLE / INTEGER bytes per memory)
--   distinct_texts (BIGINT distinct text_hash), duplicate_memories (BIGINT memories whose exact normalised
--   text another memory of the same user already holds = memories with a hash - distinct_texts),
--   duplicate_bytes (BIGINT bytes held by those duplicates)
--   oldest_created_at, newest_updated_at (TIMESTAMP UTC)
-- Cheap: one window over the snapshot table, then a grouped scan.
CREATE OR REPLACE VIEW metric_memory_snapshot_summary AS
WITH latest AS (
    SELECT user_id, snapshot_id, taken_at, source
    FROM (SELECT DISTINCT user_id, snapshot_id, taken_at, source FROM raw_memory_snapshots)
    QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY taken_at DESC, snapshot_id DESC) = 1
),
held AS (
    SELECT
        s.*,
        s.text_hash IS NOT NULL
            AND row_number() OVER (PARTITION BY s.user_id, s.text_hash ORDER BY s.created_at, s.memory_id) > 1
            AS is_duplicate
    FROM raw_memory_snapshots AS s
    JOIN latest AS l ON l.snapshot_id = s.snapshot_id AND l.user_id IS NOT DISTINCT FROM s.user_id
)
SELECT
    h.user_id, l.snapshot_id, l.taken_at, l.source,
    count(*) AS memories,
    count(DISTINCT h.agent_id) AS agents,
    CAST(coalesce(sum(h.text_bytes), 0) AS BIGINT) AS total_bytes,
    avg(h.text_bytes) AS avg_bytes,
    max(h.text_bytes) AS max_bytes,
    count(DISTINCT h.text_hash) AS distinct_texts,
    count(*) FILTER (WHERE h.is_duplicate) AS duplicate_memories,
    CAST(coalesce(sum(h.text_bytes) FILTER (WHERE h.is_duplicate), 0) AS BIGINT) AS duplicate_bytes,
    min(h.created_at) AS oldest_created_at,
    max(h.updated_at) AS newest_updated_at
FROM held AS h
JOIN latest AS l ON l.user_id IS NOT DISTINCT FROM h.user_id
GROUP BY h.user_id, l.snapshot_id, l.taken_at, l.source;
