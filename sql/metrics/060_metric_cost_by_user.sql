-- metric_cost_by_user: cost per user over all loaded data,
-- priced from cfg_prices through stg_op_costs (OSS: tokens x price per 1M; Platform:
-- per-call price by op).
-- grain: one row per user_id (NULL = calls made without a user scope).
-- columns:
--   user_id (VARCHAR, NULL for calls without user_id)
--   then the cost totals of stg_cost_totals (units there): ops, searches, demo_events, embedding_tokens,
--   llm_input_tokens, llm_output_tokens, embedding_cost_usd, llm_cost_usd, platform_cost_usd, total_cost_usd,
--   embedding_share, cost_per_1k_ops_usd, cost_per_1k_searches_usd, estimated_token_events, unpriced_tokens,
--   unpriced_calls, priced (false when anything in the group lacked a price: warn)
-- Cheap: one grouped scan of stg_op_costs (the 'user' grouping of stg_cost_totals).
CREATE OR REPLACE VIEW metric_cost_by_user AS
SELECT
    user_id,
    ops, searches, demo_events,
    embedding_tokens, llm_input_tokens, llm_output_tokens,
    embedding_cost_usd, llm_cost_usd, platform_cost_usd, total_cost_usd,
    embedding_share, cost_per_1k_ops_usd, cost_per_1k_searches_usd,
    estimated_token_events, unpriced_tokens, unpriced_calls, priced
FROM stg_cost_totals
WHERE grouped_by = 'user';
