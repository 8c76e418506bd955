-- metric_cost_daily: cost per UTC day,
-- priced from cfg_prices through stg_op_costs (OSS: tokens x price per 1M; Platform:
-- per-call price by op).
-- grain: one row per day.
-- columns:
--   day (DATE UTC calendar day)
--   then the cost totals of stg_cost_totals (units there): ops, searches, demo_events, embedding_tokens,
--   llm_input_tokens, llm_output_tokens, embedding_cost_usd, llm_cost_usd, platform_cost_usd, total_cost_usd,
--   embedding_share, cost_per_1k_ops_usd, cost_per_1k_searches_usd, estimated_token_events, unpriced_tokens,
--   unpriced_calls, priced (false when anything in the group lacked a price: warn)
-- Cheap: one grouped scan of stg_op_costs (the 'day' grouping of stg_cost_totals).
CREATE OR REPLACE VIEW metric_cost_daily AS
SELECT
    day,
    ops, searches, demo_events,
    embedding_tokens, llm_input_tokens, llm_output_tokens,
    embedding_cost_usd, llm_cost_usd, platform_cost_usd, total_cost_usd,
    embedding_share, cost_per_1k_ops_usd, cost_per_1k_searches_usd,
    estimated_token_events, unpriced_tokens, unpriced_calls, priced
FROM stg_cost_totals
WHERE grouped_by = 'day';
