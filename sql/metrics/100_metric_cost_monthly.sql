-- metric_cost_monthly: cost per UTC calendar month,
-- priced from cfg_prices through stg_op_costs (OSS: tokens x price per 1M; Platform:
-- per-call price by op).
-- grain: one row per month.
-- columns:
--   month (DATE UTC first day of the month), days_with_data (BIGINT days of the month with calls),
--   days_in_month (BIGINT), projected_month_usd (DOUBLE USD = total_cost_usd / days_with_data x days_in_month,
--   a naive run-rate projection for a month in progress)
--   then the cost totals of stg_cost_totals (units there): ops, searches, demo_events, embedding_tokens,
--   llm_input_tokens, llm_output_tokens, embedding_cost_usd, llm_cost_usd, platform_cost_usd, total_cost_usd,
--   embedding_share, cost_per_1k_ops_usd, cost_per_1k_searches_usd, estimated_token_events, unpriced_tokens,
--   unpriced_calls, priced (false when anything in the group lacked a price: warn)
-- Cheap: the 'month' grouping of stg_cost_totals (one grouped scan of stg_op_costs) joined with the days per
-- month counted on stg_op_events (a second, cheaper scan: a DISTINCT count inside stg_cost_totals would be paid
-- by every cost view).
CREATE OR REPLACE VIEW metric_cost_monthly AS
WITH days AS (
    SELECT month, count(DISTINCT day) AS days_with_data,
           CAST(date_diff('day', month, CAST(month + INTERVAL 1 MONTH AS DATE)) AS BIGINT) AS days_in_month
    FROM stg_op_events
    GROUP BY month
)
SELECT
    m.month, d.days_with_data, d.days_in_month,
    m.total_cost_usd / d.days_with_data * d.days_in_month AS projected_month_usd,
    m.ops, m.searches, m.demo_events,
    m.embedding_tokens, m.llm_input_tokens, m.llm_output_tokens,
    m.embedding_cost_usd, m.llm_cost_usd, m.platform_cost_usd, m.total_cost_usd,
    m.embedding_share, m.cost_per_1k_ops_usd, m.cost_per_1k_searches_usd,
    m.estimated_token_events, m.unpriced_tokens, m.unpriced_calls, m.priced
FROM stg_cost_totals AS m
JOIN days AS d USING (month)
WHERE m.grouped_by = 'month';
