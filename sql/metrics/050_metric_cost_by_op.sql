-- metric_cost_by_op: cost per operation type over all loaded data,
-- priced from cfg_prices through stg_op_costs (OSS: tokens x price per 1M; Platform:
-- per-call price by op).
-- grain: one row per (mode, op).
-- columns:
--   mode (VARCHAR oss | platform), op (VARCHAR Mem0 op)
--   ops (BIGINT calls), searches (BIGINT search calls), demo_events (BIGINT demo rows among ops)
--   embedding_tokens, llm_input_tokens, llm_output_tokens (BIGINT tokens)
--   embedding_cost_usd, llm_cost_usd, platform_cost_usd, total_cost_usd (DOUBLE USD)
--   embedding_share (DOUBLE embedding_cost_usd / total_cost_usd, 0..1; NULL when total is 0)
--   cost_per_1k_ops_usd (DOUBLE USD per 1,000 calls), cost_per_1k_searches_usd (DOUBLE USD of all calls per
--   1,000 searches, the reference's "cost per 1000 queries"; NULL without searches)
--   estimated_token_events (BIGINT calls whose token counts are estimates)
--   unpriced_tokens (BIGINT tokens of models with no price row), unpriced_calls (BIGINT platform calls of an
--   op with no price row), priced (BOOLEAN false when anything in the group lacked a price: warn)
-- Cheap: one grouped scan of stg_op_costs.
CREATE OR REPLACE VIEW metric_cost_by_op AS
SELECT
    mode, op, ops, searches, demo_events,
    embedding_tokens, llm_input_tokens, llm_output_tokens,
    embedding_cost_usd, llm_cost_usd, platform_cost_usd, total_cost_usd,
    embedding_cost_usd / nullif(total_cost_usd, 0) AS embedding_share,
    total_cost_usd * 1000.0 / ops AS cost_per_1k_ops_usd,
    total_cost_usd * 1000.0 / nullif(searches, 0) AS cost_per_1k_searches_usd,
    estimated_token_events, unpriced_tokens, unpriced_calls, priced
FROM (
    SELECT
        mode, op,
        count(*) AS ops,
        count(*) FILTER (WHERE is_search) AS searches,
        count(*) FILTER (WHERE is_demo) AS demo_events,
        CAST(sum(embedding_tokens) AS BIGINT) AS embedding_tokens,
        CAST(sum(llm_input_tokens) AS BIGINT) AS llm_input_tokens,
        CAST(sum(llm_output_tokens) AS BIGINT) AS llm_output_tokens,
        sum(embedding_cost_usd) AS embedding_cost_usd,
        sum(llm_cost_usd) AS llm_cost_usd,
        sum(platform_cost_usd) AS platform_cost_usd,
        sum(total_cost_usd) AS total_cost_usd,
        count(*) FILTER (WHERE tokens_estimated) AS estimated_token_events,
        CAST(sum(unpriced_tokens) AS BIGINT) AS unpriced_tokens,
        CAST(sum(unpriced_calls) AS BIGINT) AS unpriced_calls,
        bool_and(priced) AS priced
    FROM stg_op_costs
    GROUP BY mode, op
);
