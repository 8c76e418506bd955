-- stg_op_facts: every operation as additive measures (counts and sums), the exact input of the metric layer
-- (sql/layer) and what the rollups (sql/rollups) sum per hour/day. A figure is defined once in sql/layer as an
-- expression over sums of these columns (error rate = sum(errors) / sum(ops)), so it evaluates the same over
-- these event rows or over a rollup's pre-summed rows.
-- grain: one row per operation event (event_id), same rows as stg_op_events.
-- columns:
--   every column of stg_op_events (its dimensions are the layer's filters and group keys: ts, day, hour,
--   service, mode, op, status, user_id, agent_id, tag, embedding_model, llm_model, cache, query_hash,
--   effective_limit, scope, rerank_requested, is_demo, ...; latency_ms is what percentiles are taken of), then
--   hist_bucket (INTEGER log-latency bucket: [10^(b/250), 10^((b+1)/250)) ms, 250 per decade =
--   memlens.rollups.HIST_PER_DECADE; latencies below 0.001 ms land in the 0.001 ms bucket)
--   measures (BIGINT counts of calls unless named *_ms; every one is 0 or 1 here, summed by the layer):
--   ops, demo_ops (demo rows), errors, slow_ops (latency over cfg_settings.slow_op_ms), sum_ms (DOUBLE), max_ms (DOUBLE),
--   searches, search_sum_ms (DOUBLE), search_errors,
--   cache_requests (any cache outcome), hits, misses, bypasses, hit_sum_ms, miss_sum_ms, bypass_sum_ms (DOUBLE),
--   ok_misses, ok_miss_sum_ms (DOUBLE) (successful searches a cache looked up and missed), uncached_searches,
--   uncached_sum_ms (DOUBLE) (successful searches with a user id that no cache answered: bypassed, or made
--   while no cache was in front; the baseline of the miss penalty, sql/layer/cache.sql),
--   unscoped (search/get_all without user/agent/run scope), unscoped_searches, reranked_searches,
--   limit_passed_calls (calls passing `limit=`), limit_ignored_calls (OSS search/get_all passing `limit=`, which mem0 2.2.1 ignores),
--   top_k_searches (searches recording top_k), top_k_sum (sum of their top_k),
--   result_calls (calls reporting result_count), result_count_sum,
--   adds, add_messages_calls (adds recording message_count), add_messages_sum, single_message_adds,
--   timed_ops (calls with phase timings: op-log schema v2, OSS calls that reached Mem0), timed_sum_ms (DOUBLE their
--   latency), <phase>_sum_ms (DOUBLE ms in each phase of memlens.schema.PHASES: embedding, vector_search,
--   vector_read, vector_write, rerank, llm, history, graph; 0 where it did not run), other_sum_ms (DOUBLE the rest
--   of a timed call: latency minus its phases, never below 0, as stg_op_phases' 'other')
-- Cheap: a projection of stg_op_events (only the columns a query reads are computed).
CREATE OR REPLACE VIEW stg_op_facts AS
SELECT
    *,
    CAST(floor(log10(greatest(latency_ms, 0.001)) * 250) AS INTEGER) AS hist_bucket,
    1 AS ops,
    CASE WHEN is_demo THEN 1 ELSE 0 END AS demo_ops,
    CASE WHEN is_error THEN 1 ELSE 0 END AS errors,
    CASE WHEN is_slow THEN 1 ELSE 0 END AS slow_ops,
    latency_ms AS sum_ms,
    latency_ms AS max_ms,
    CASE WHEN op = 'search' THEN 1 ELSE 0 END AS searches,
    CASE WHEN op = 'search' THEN latency_ms ELSE 0 END AS search_sum_ms,
    CASE WHEN op = 'search' AND is_error THEN 1 ELSE 0 END AS search_errors,
    CASE WHEN cache IS NOT NULL THEN 1 ELSE 0 END AS cache_requests,
    CASE WHEN cache = 'hit' THEN 1 ELSE 0 END AS hits,
    CASE WHEN cache = 'miss' THEN 1 ELSE 0 END AS misses,
    CASE WHEN cache = 'bypass' THEN 1 ELSE 0 END AS bypasses,
    CASE WHEN cache = 'hit' THEN latency_ms ELSE 0 END AS hit_sum_ms,
    CASE WHEN cache = 'miss' THEN latency_ms ELSE 0 END AS miss_sum_ms,
    CASE WHEN cache = 'bypass' THEN latency_ms ELSE 0 END AS bypass_sum_ms,
    CASE WHEN cache = 'miss' AND status = 'ok' THEN 1 ELSE 0 END AS ok_misses,
    CASE WHEN cache = 'miss' AND status = 'ok' THEN latency_ms ELSE 0 END AS ok_miss_sum_ms,
    CASE WHEN op = 'search' AND status = 'ok' AND user_id IS NOT NULL AND coalesce(cache, 'bypass') = 'bypass'
         THEN 1 ELSE 0 END AS uncached_searches,
    CASE WHEN op = 'search' AND status = 'ok' AND user_id IS NOT NULL AND coalesce(cache, 'bypass') = 'bypass'
         THEN latency_ms ELSE 0 END AS uncached_sum_ms,
    CASE WHEN is_unscoped AND op IN ('search', 'get_all') THEN 1 ELSE 0 END AS unscoped,
    CASE WHEN is_unscoped AND op = 'search' THEN 1 ELSE 0 END AS unscoped_searches,
    CASE WHEN rerank_requested AND op = 'search' THEN 1 ELSE 0 END AS reranked_searches,
    CASE WHEN "limit" IS NOT NULL THEN 1 ELSE 0 END AS limit_passed_calls,
    CASE WHEN limit_ignored THEN 1 ELSE 0 END AS limit_ignored_calls,
    CASE WHEN op = 'search' AND effective_limit IS NOT NULL THEN 1 ELSE 0 END AS top_k_searches,
    CASE WHEN op = 'search' THEN coalesce(effective_limit, 0) ELSE 0 END AS top_k_sum,
    CASE WHEN result_count IS NOT NULL THEN 1 ELSE 0 END AS result_calls,
    coalesce(result_count, 0) AS result_count_sum,
    CASE WHEN op = 'add' THEN 1 ELSE 0 END AS adds,
    CASE WHEN op = 'add' AND message_count IS NOT NULL THEN 1 ELSE 0 END AS add_messages_calls,
    CASE WHEN op = 'add' THEN coalesce(message_count, 0) ELSE 0 END AS add_messages_sum,
    CASE WHEN op = 'add' AND message_count <= 1 THEN 1 ELSE 0 END AS single_message_adds,
    CASE WHEN {{ op_event_has_phases }} THEN 1 ELSE 0 END AS timed_ops,
    CASE WHEN {{ op_event_has_phases }} THEN latency_ms ELSE 0 END AS timed_sum_ms,
    coalesce(embedding_ms, 0) AS embedding_sum_ms,
    coalesce(vector_search_ms, 0) AS vector_search_sum_ms,
    coalesce(vector_read_ms, 0) AS vector_read_sum_ms,
    coalesce(vector_write_ms, 0) AS vector_write_sum_ms,
    coalesce(rerank_ms, 0) AS rerank_sum_ms,
    coalesce(llm_ms, 0) AS llm_sum_ms,
    coalesce(history_ms, 0) AS history_sum_ms,
    coalesce(graph_ms, 0) AS graph_sum_ms,
    CASE WHEN {{ op_event_has_phases }} THEN greatest(latency_ms - ({{ op_event_phase_sum }}), 0) ELSE 0 END
        AS other_sum_ms
FROM stg_op_events;
