-- metric_cost_by_model: cost per priced thing: each embedding model, each LLM, and each Platform op.
-- grain: one row per (kind, model). kind 'embedding' and 'llm' cover OSS calls that used tokens of that
-- model; kind 'platform_call' has one row per op of mode 'platform' calls (model = the op name).
-- columns:
--   kind (VARCHAR embedding | llm | platform_call), model (VARCHAR model name, or op for platform_call;
--   NULL = tokens recorded without a model name)
--   events (BIGINT calls), demo_events (BIGINT demo rows among them)
--   input_tokens (BIGINT embedding tokens or LLM input tokens; 0 for platform_call)
--   output_tokens (BIGINT LLM output tokens; 0 otherwise)
--   usd_per_1m_input, usd_per_1m_output (DOUBLE USD per 1M tokens, NULL = no price row),
--   usd_per_call (DOUBLE USD per Platform call, NULL = no price row)
--   cost_usd (DOUBLE USD), cost_share (DOUBLE cost_usd / cost of all rows, 0..1; NULL when all cost 0)
--   priced (BOOLEAN false when the model/op has no price row: its cost shows as 0, warn)
--   unpriced_tokens (BIGINT tokens of this model left unpriced), unpriced_calls (BIGINT unpriced Platform calls)
-- Cheap: three grouped scans of stg_op_costs.
CREATE OR REPLACE VIEW metric_cost_by_model AS
WITH rows_by_kind AS (
    SELECT 'embedding' AS kind, embedding_model AS model, count(*) AS events,
           count(*) FILTER (WHERE is_demo) AS demo_events,
           CAST(sum(embedding_tokens) AS BIGINT) AS input_tokens, CAST(0 AS BIGINT) AS output_tokens,
           any_value(embedding_usd_per_1m) AS usd_per_1m_input, CAST(NULL AS DOUBLE) AS usd_per_1m_output,
           CAST(NULL AS DOUBLE) AS usd_per_call,
           sum(embedding_cost_usd) AS cost_usd, bool_and(embedding_priced) AS priced,
           CAST(sum(CASE WHEN embedding_priced THEN 0 ELSE embedding_tokens END) AS BIGINT) AS unpriced_tokens,
           CAST(0 AS BIGINT) AS unpriced_calls
    FROM stg_op_costs
    WHERE mode = 'oss' AND embedding_tokens > 0
    GROUP BY embedding_model
    UNION ALL
    SELECT 'llm', llm_model, count(*), count(*) FILTER (WHERE is_demo),
           CAST(sum(llm_input_tokens) AS BIGINT), CAST(sum(llm_output_tokens) AS BIGINT),
           any_value(llm_input_usd_per_1m), any_value(llm_output_usd_per_1m), NULL,
           sum(llm_cost_usd), bool_and(llm_priced),
           CAST(sum(CASE WHEN llm_priced THEN 0 ELSE llm_input_tokens + llm_output_tokens END) AS BIGINT),
           0
    FROM stg_op_costs
    WHERE mode = 'oss' AND (llm_input_tokens + llm_output_tokens) > 0
    GROUP BY llm_model
    UNION ALL
    SELECT 'platform_call', op, count(*), count(*) FILTER (WHERE is_demo),
           0, 0, NULL, NULL, any_value(platform_usd_per_call),
           sum(platform_cost_usd), bool_and(platform_priced), 0,
           CAST(sum(unpriced_calls) AS BIGINT)
    FROM stg_op_costs
    WHERE mode = 'platform'
    GROUP BY op
)
SELECT
    kind, model, events, demo_events, input_tokens, output_tokens,
    usd_per_1m_input, usd_per_1m_output, usd_per_call,
    cost_usd,
    cost_usd / nullif(sum(cost_usd) OVER (), 0) AS cost_share,
    priced, unpriced_tokens, unpriced_calls
FROM rows_by_kind;
