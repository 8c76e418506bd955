-- stg_cache_lookups: every search a memlens SearchCache would look up, keyed as it keys them, and whether an
-- earlier search could have served it. Cacheable (instrumentation/cache.py, decided from what the log records):
-- a search with a user id and a query, scoped by nothing but plain user/agent/run ids, not logged as a bypass.
-- Key: service + user + agent + run + query_hash + top_k, threshold, rerank as applied (one cache per service).
-- could_be_served: the log says a cache served it, or a successful search with the same key that started earlier
-- (not at the same instant: that one has stored nothing yet) returned no
-- earlier than the last invalidation of this user's keys in this service (stg_cache_invalidations) before this
-- search started. That is what a cache that never expires and never fills serves to callers whose calls do not
-- overlap (overlapping calls only make this count larger): no TTL or size does better, and a real cache in front
-- of these searches measures at most this many hits (its hits count even when the log does not show the search
-- that stored them, e.g. one made before logging began).
-- grain: one row per cacheable search event (event_id), in any status.
-- columns:
--   event_id (VARCHAR), ts (TIMESTAMP UTC start), day (DATE UTC), service, mode, status, user_id, agent_id,
--   run_id, tag, embedding_model, llm_model (VARCHAR: the filters of the metric layer), query_hash (VARCHAR),
--   top_k (INTEGER), threshold (DOUBLE), rerank (BOOLEAN as applied, NULL unknown)
--   key_hash (UBIGINT cache key), group_hash (UBIGINT service + user: whose writes drop the key)
--   start_ns / end_ns (BIGINT epoch nanoseconds the call started / returned)
--   ok (BOOLEAN status ok: only a successful miss stores its result), latency_ms (DOUBLE)
--   cache (VARCHAR outcome logged: hit | miss, NULL when no cache was in front)
--   served_by_cache (BOOLEAN cache = 'hit'), through_cache (BOOLEAN a cache looked it up: hit or miss)
--   last_invalidation_ns (BIGINT latest invalidation of this user's keys returned by start_ns, NULL = none)
--   could_be_served (BOOLEAN, see above)
-- Cost: one window over the cacheable searches partitioned by key, and two as-of joins to the invalidations.
CREATE OR REPLACE VIEW stg_cache_lookups AS
WITH lookups AS (
    SELECT event_id, ts, CAST(ts AS DATE) AS day, service, mode, status, user_id, agent_id, run_id, tag,
           embedding_model, llm_model, query_hash,
           top_k, threshold, rerank,
           hash(service, user_id, agent_id, run_id, query_hash, top_k, threshold, rerank) AS key_hash,
           hash(service, user_id) AS group_hash,
           epoch_ns(ts) AS start_ns,
           epoch_ns(ts) + CAST(round(latency_ms * 1e6) AS BIGINT) AS end_ns,
           status = 'ok' AS ok, latency_ms, cache,
           coalesce(cache = 'hit', false) AS served_by_cache,
           coalesce(cache IN ('hit', 'miss'), false) AS through_cache
    FROM raw_op_events
    WHERE op = 'search' AND user_id IS NOT NULL AND query_hash IS NOT NULL
      AND cache IS DISTINCT FROM 'bypass'
      AND coalesce(list_has_all(['user_id', 'agent_id', 'run_id'], filter_keys), true)
      AND (agent_id IS NOT NULL OR NOT coalesce(list_contains(filter_keys, 'agent_id'), false))
      AND (run_id IS NOT NULL OR NOT coalesce(list_contains(filter_keys, 'run_id'), false))
),
stored AS (
    -- searches that started strictly earlier: one started at the same instant has not stored anything yet
    SELECT *, max(CASE WHEN ok THEN end_ns END) OVER (
                  PARTITION BY key_hash ORDER BY start_ns
                  RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_store_ns
    FROM lookups
),
-- (the as-of joins match on hashes: integer keys join ~2x faster than the service and user strings; the joined
-- sides' columns have names of their own, so `s.*` keeps its bare names on ClickHouse too)
user_inv AS (SELECT hash(service, user_id) AS inv_group_hash, end_ns AS inv_end_ns
             FROM stg_cache_invalidations WHERE user_id IS NOT NULL),
all_inv AS (SELECT hash(service) AS inv_service_hash, end_ns AS inv_end_ns
            FROM stg_cache_invalidations WHERE user_id IS NULL),
last_inv AS (
    SELECT s.*, greatest(coalesce(u.inv_end_ns, -1), coalesce(a.inv_end_ns, -1)) AS inv_ns
    FROM stored AS s
    ASOF LEFT JOIN user_inv AS u ON u.inv_group_hash = s.group_hash AND u.inv_end_ns <= s.start_ns
    ASOF LEFT JOIN all_inv AS a ON a.inv_service_hash = hash(s.service) AND a.inv_end_ns <= s.start_ns
)
SELECT event_id, ts, day, service, mode, status, user_id, agent_id, run_id, tag, embedding_model, llm_model,
       query_hash, top_k, threshold, rerank, key_hash, group_hash,
       start_ns, end_ns, ok, latency_ms, cache, served_by_cache, through_cache,
       nullif(inv_ns, -1) AS last_invalidation_ns,
       served_by_cache OR coalesce(prev_store_ns >= inv_ns, false) AS could_be_served
FROM last_inv;
