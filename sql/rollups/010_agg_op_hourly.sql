-- agg_op_hourly: the additive measures of stg_op_facts summed per hour, materialised by memlens.rollups.refresh()
-- so the metric layer (memlens/layer.py) answers over a 10M-event warehouse from ~1000x fewer rows. Every figure
-- of sql/layer that reads op_facts evaluates the same SQL over these rows as over stg_op_facts: sums re-sum,
-- max re-maxes. Percentiles cannot be summed: agg_latency_hist_daily holds their histograms.
-- grain: one row per (hour, service, mode, op, agent_id, is_demo). (User, model, tag... filters: exact input.)
-- columns:
--   hour (TIMESTAMP UTC), day (DATE UTC), service, mode, op, agent_id (VARCHAR), is_demo (BOOLEAN)
--   every measure of stg_op_facts, summed (BIGINT calls; *_ms DOUBLE milliseconds; max_ms the maximum):
--   ops, demo_ops, errors, slow_ops, sum_ms, max_ms, searches, search_sum_ms, search_errors, cache_requests, hits,
--   misses, bypasses, hit_sum_ms, miss_sum_ms, bypass_sum_ms, ok_misses, ok_miss_sum_ms, uncached_searches,
--   uncached_sum_ms, unscoped, unscoped_searches, reranked_searches, limit_passed_calls, limit_ignored_calls,
--   top_k_searches, top_k_sum, result_calls, result_count_sum, adds, add_messages_calls,
--   add_messages_sum, single_message_adds, timed_ops, timed_sum_ms,
--   <phase>_sum_ms (each of memlens.schema.PHASES), other_sum_ms
-- Refresh: one grouped scan of stg_op_facts from $since on (the day of the earliest new event:
-- older days are kept, see memlens.rollups.refresh) (depends on cfg_settings: refresh after a config change).
CREATE OR REPLACE TABLE agg_op_hourly AS
SELECT
    hour, day, service, mode, op, agent_id, is_demo,
    CAST(sum(ops) AS BIGINT) AS ops,
    CAST(sum(demo_ops) AS BIGINT) AS demo_ops,
    CAST(sum(errors) AS BIGINT) AS errors,
    CAST(sum(slow_ops) AS BIGINT) AS slow_ops,
    sum(sum_ms) AS sum_ms,
    max(max_ms) AS max_ms,
    CAST(sum(searches) AS BIGINT) AS searches,
    sum(search_sum_ms) AS search_sum_ms,
    CAST(sum(search_errors) AS BIGINT) AS search_errors,
    CAST(sum(cache_requests) AS BIGINT) AS cache_requests,
    CAST(sum(hits) AS BIGINT) AS hits,
    CAST(sum(misses) AS BIGINT) AS misses,
    CAST(sum(bypasses) AS BIGINT) AS bypasses,
    sum(hit_sum_ms) AS hit_sum_ms,
    sum(miss_sum_ms) AS miss_sum_ms,
    sum(bypass_sum_ms) AS bypass_sum_ms,
    CAST(sum(ok_misses) AS BIGINT) AS ok_misses,
    sum(ok_miss_sum_ms) AS ok_miss_sum_ms,
    CAST(sum(uncached_searches) AS BIGINT) AS uncached_searches,
    sum(uncached_sum_ms) AS uncached_sum_ms,
    CAST(sum(unscoped) AS BIGINT) AS unscoped,
    CAST(sum(unscoped_searches) AS BIGINT) AS unscoped_searches,
    CAST(sum(reranked_searches) AS BIGINT) AS reranked_searches,
    CAST(sum(limit_passed_calls) AS BIGINT) AS limit_passed_calls,
    CAST(sum(limit_ignored_calls) AS BIGINT) AS limit_ignored_calls,
    CAST(sum(top_k_searches) AS BIGINT) AS top_k_searches,
    CAST(sum(top_k_sum) AS BIGINT) AS top_k_sum,
    CAST(sum(result_calls) AS BIGINT) AS result_calls,
    CAST(sum(result_count_sum) AS BIGINT) AS result_count_sum,
    CAST(sum(adds) AS BIGINT) AS adds,
    CAST(sum(add_messages_calls) AS BIGINT) AS add_messages_calls,
    CAST(sum(add_messages_sum) AS BIGINT) AS add_messages_sum,
    CAST(sum(single_message_adds) AS BIGINT) AS single_message_adds,
    CAST(sum(timed_ops) AS BIGINT) AS timed_ops,
    sum(timed_sum_ms) AS timed_sum_ms,
    sum(embedding_sum_ms) AS embedding_sum_ms,
    sum(vector_search_sum_ms) AS vector_search_sum_ms,
    sum(vector_read_sum_ms) AS vector_read_sum_ms,
    sum(vector_write_sum_ms) AS vector_write_sum_ms,
    sum(rerank_sum_ms) AS rerank_sum_ms,
    sum(llm_sum_ms) AS llm_sum_ms,
    sum(history_sum_ms) AS history_sum_ms,
    sum(graph_sum_ms) AS graph_sum_ms,
    sum(other_sum_ms) AS other_sum_ms
FROM stg_op_facts
WHERE $since IS NULL OR ts >= $since  -- NULL: every day
GROUP BY ALL
ORDER BY hour;
