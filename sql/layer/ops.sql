-- ops: calls, errors, slowness, latency averages, cache outcomes and query shape of the selected operations,
-- per group. The definitions of these figures: every page, report and advice reads them from here.
-- reads: op_facts
-- grain: one row per group of the requested keys (/*keys*/); one row without keys.
-- columns:
--   ops (BIGINT calls), demo_events (BIGINT demo rows among them), errors (BIGINT status 'error'),
--   error_rate (DOUBLE errors / ops, 0..1)
--   avg_ms (DOUBLE mean latency of all calls, ok and error), max_ms (DOUBLE), total_ms (DOUBLE summed latency:
--   the callers' total wait)
--   slow_ops (BIGINT calls over thresholds.slow_op_ms), slow_share (DOUBLE slow_ops / ops)
--   searches (BIGINT search calls), search_avg_ms (DOUBLE mean search latency: the reference's query latency)
--   search_error_rate (DOUBLE search errors / searches)
--   cache_requests (BIGINT calls with a cache outcome), hits, misses, bypasses (BIGINT)
--   hit_rate (DOUBLE hits / (hits + misses); bypasses are not cache lookups), avg_hit_ms, avg_miss_ms,
--   avg_bypass_ms (DOUBLE ms) (the miss penalty compares misses with uncached searches: cache.sql)
--   search_avg_top_k (DOUBLE mean top_k of searches recording it), search_unscoped_share (DOUBLE searches
--   without user/agent/run scope / searches), search_rerank_share (DOUBLE reranked searches / searches)
--   limit_passed_calls (BIGINT calls passing `limit=`), limit_ignored_calls (BIGINT OSS calls whose `limit=`
--   mem0 ignored), avg_result_count (DOUBLE)
--   add_avg_messages (DOUBLE messages per add recording it), add_single_message_share (DOUBLE adds of <= 1
--   message / adds)
--   ops_per_s (DOUBLE calls per second of the period: $period_s, the bucket's or the range's length; NULL
--   when the period is unknown)
SELECT /*keys*/
    CAST(coalesce(sum(ops), 0) AS BIGINT) AS ops,
    CAST(coalesce(sum(demo_ops), 0) AS BIGINT) AS demo_events,
    CAST(coalesce(sum(errors), 0) AS BIGINT) AS errors,
    sum(errors) / nullif(sum(ops), 0) AS error_rate,
    sum(sum_ms) / nullif(sum(ops), 0) AS avg_ms,
    max(max_ms) AS max_ms,
    coalesce(sum(sum_ms), 0) AS total_ms,
    CAST(coalesce(sum(slow_ops), 0) AS BIGINT) AS slow_ops,
    sum(slow_ops) / nullif(sum(ops), 0) AS slow_share,
    CAST(coalesce(sum(searches), 0) AS BIGINT) AS searches,
    sum(search_sum_ms) / nullif(sum(searches), 0) AS search_avg_ms,
    sum(search_errors) / nullif(sum(searches), 0) AS search_error_rate,
    CAST(coalesce(sum(cache_requests), 0) AS BIGINT) AS cache_requests,
    CAST(coalesce(sum(hits), 0) AS BIGINT) AS hits,
    CAST(coalesce(sum(misses), 0) AS BIGINT) AS misses,
    CAST(coalesce(sum(bypasses), 0) AS BIGINT) AS bypasses,
    sum(hits) / nullif(sum(hits) + sum(misses), 0) AS hit_rate,
    sum(hit_sum_ms) / nullif(sum(hits), 0) AS avg_hit_ms,
    sum(miss_sum_ms) / nullif(sum(misses), 0) AS avg_miss_ms,
    sum(bypass_sum_ms) / nullif(sum(bypasses), 0) AS avg_bypass_ms,
    sum(top_k_sum) / nullif(sum(top_k_searches), 0) AS search_avg_top_k,
    sum(unscoped_searches) / nullif(sum(searches), 0) AS search_unscoped_share,
    sum(reranked_searches) / nullif(sum(searches), 0) AS search_rerank_share,
    CAST(coalesce(sum(limit_passed_calls), 0) AS BIGINT) AS limit_passed_calls,
    CAST(coalesce(sum(limit_ignored_calls), 0) AS BIGINT) AS limit_ignored_calls,
    sum(result_count_sum) / nullif(sum(result_calls), 0) AS avg_result_count,
    sum(add_messages_sum) / nullif(sum(add_messages_calls), 0) AS add_avg_messages,
    sum(single_message_adds) / nullif(sum(adds), 0) AS add_single_message_share,
    sum(ops) / $period_s AS ops_per_s
FROM op_facts
GROUP BY ALL
