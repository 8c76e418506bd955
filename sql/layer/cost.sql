-- cost: what the selected operations cost, priced from the config's price table (stg_op_costs), per group.
-- Cost per 1,000 queries is the reference's "cost per 1000 queries": all cost of the group / its searches x
-- 1000; its targets differ by mode (OSS < $0.02, Platform < $0.10), so a page shows it per mode, named so.
-- reads: cost_facts
-- grain: one row per group of the requested keys (/*keys*/); one row without keys.
-- columns:
--   ops (BIGINT calls), searches (BIGINT search calls)
--   embedding_tokens, llm_input_tokens, llm_output_tokens (BIGINT tokens), llm_cached_input_tokens (BIGINT of the
--   input tokens, those served from the provider's prompt cache: priced at the cached rate)
--   embedding_cost_usd, llm_cost_usd, platform_cost_usd, total_cost_usd (DOUBLE USD; 0 without calls)
--   embedding_share (DOUBLE embedding_cost_usd / total_cost_usd, 0..1; NULL when nothing cost anything)
--   llm_share (DOUBLE llm_cost_usd / total_cost_usd, 0..1; NULL when nothing cost anything)
--   cost_per_1k_ops_usd (DOUBLE USD per 1,000 calls), cost_per_1k_searches_usd (DOUBLE USD per 1,000 searches;
--   NULL without searches)
--   estimated_token_events (BIGINT calls with estimated token counts), unpriced_tokens (BIGINT tokens of models
--   without a price), unpriced_calls (BIGINT Platform calls of an op without a price), unpriced_events (BIGINT
--   calls lacking a price), priced (BOOLEAN no call lacked a price)
SELECT /*keys*/
    CAST(coalesce(sum(ops), 0) AS BIGINT) AS ops,
    CAST(coalesce(sum(searches), 0) AS BIGINT) AS searches,
    CAST(coalesce(sum(embedding_tokens), 0) AS BIGINT) AS embedding_tokens,
    CAST(coalesce(sum(llm_input_tokens), 0) AS BIGINT) AS llm_input_tokens,
    CAST(coalesce(sum(llm_output_tokens), 0) AS BIGINT) AS llm_output_tokens,
    CAST(coalesce(sum(llm_cached_input_tokens), 0) AS BIGINT) AS llm_cached_input_tokens,
    coalesce(sum(embedding_cost_usd), 0) AS embedding_cost_usd,
    coalesce(sum(llm_cost_usd), 0) AS llm_cost_usd,
    coalesce(sum(platform_cost_usd), 0) AS platform_cost_usd,
    coalesce(sum(total_cost_usd), 0) AS total_cost_usd,
    sum(embedding_cost_usd) / nullif(sum(total_cost_usd), 0) AS embedding_share,
    sum(llm_cost_usd) / nullif(sum(total_cost_usd), 0) AS llm_share,
    sum(total_cost_usd) * 1000.0 / nullif(sum(ops), 0) AS cost_per_1k_ops_usd,
    sum(total_cost_usd) * 1000.0 / nullif(sum(searches), 0) AS cost_per_1k_searches_usd,
    CAST(coalesce(sum(estimated_token_events), 0) AS BIGINT) AS estimated_token_events,
    CAST(coalesce(sum(unpriced_tokens), 0) AS BIGINT) AS unpriced_tokens,
    CAST(coalesce(sum(unpriced_calls), 0) AS BIGINT) AS unpriced_calls,
    CAST(coalesce(sum(unpriced_events), 0) AS BIGINT) AS unpriced_events,
    coalesce(sum(unpriced_events), 0) = 0 AS priced
FROM cost_facts
GROUP BY ALL
