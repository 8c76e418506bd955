-- agg_cost_daily: additive per-day cost aggregates (priced by stg_op_costs from cfg_prices), materialised by
-- memlens.rollups.refresh() for the cost pages: any grouping or filter on these dimensions re-aggregates
-- exactly (per agent, model, op, service, day, week, month; cost per 1k searches = cost / searches). Per-user
-- cost is agg_cost_user_daily (users times models times agents would not be small).
-- grain: one row per (day, service, mode, op, agent_id, embedding_model, llm_model, is_demo); the prices of the
-- models / op are grouped on too (one price per model: they add no rows).
-- columns:
--   day, week, month (DATE UTC), service, mode, op, agent_id, embedding_model, llm_model (VARCHAR),
--   is_demo (BOOLEAN), embedding_usd_per_1m, llm_input_usd_per_1m, llm_output_usd_per_1m,
--   llm_cached_input_usd_per_1m (DOUBLE USD per 1M tokens), platform_usd_per_call (DOUBLE USD per call) (NULL = no price row)
--   ops, searches (BIGINT calls), estimated_token_events (BIGINT calls with estimated token counts)
--   embedding_tokens, llm_input_tokens, llm_output_tokens, llm_cached_input_tokens (BIGINT tokens; cached: of the
--   input tokens, those served from the provider's prompt cache)
--   embedding_cost_usd, llm_cost_usd, platform_cost_usd, total_cost_usd (DOUBLE USD, prices at refresh time)
--   unpriced_tokens (BIGINT), unpriced_calls (BIGINT), unpriced_events (BIGINT calls lacking a price)
--   embedding_events, llm_events, platform_events (BIGINT calls that used embedding / LLM tokens, Platform calls)
--   embedding_unpriced_tokens, llm_unpriced_tokens (BIGINT the two parts of unpriced_tokens)
-- Refresh: one grouped scan of stg_op_costs from $since on (the day of the earliest new event:
-- older days are kept, see memlens.rollups.refresh) (depends on cfg_prices: refresh after a price change).
CREATE OR REPLACE TABLE agg_cost_daily AS
SELECT
    day, week, month, service, mode, op, agent_id, embedding_model, llm_model, is_demo,
    embedding_usd_per_1m, llm_input_usd_per_1m, llm_output_usd_per_1m, llm_cached_input_usd_per_1m,
    platform_usd_per_call,
    CAST(sum(ops) AS BIGINT) AS ops,
    CAST(sum(searches) AS BIGINT) AS searches,
    CAST(sum(estimated_token_events) AS BIGINT) AS estimated_token_events,
    CAST(sum(embedding_tokens) AS BIGINT) AS embedding_tokens,
    CAST(sum(llm_input_tokens) AS BIGINT) AS llm_input_tokens,
    CAST(sum(llm_output_tokens) AS BIGINT) AS llm_output_tokens,
    CAST(sum(llm_cached_input_tokens) AS BIGINT) AS llm_cached_input_tokens,
    sum(embedding_cost_usd) AS embedding_cost_usd,
    sum(llm_cost_usd) AS llm_cost_usd,
    sum(platform_cost_usd) AS platform_cost_usd,
    sum(total_cost_usd) AS total_cost_usd,
    CAST(sum(unpriced_tokens) AS BIGINT) AS unpriced_tokens,
    CAST(sum(unpriced_calls) AS BIGINT) AS unpriced_calls,
    CAST(sum(unpriced_events) AS BIGINT) AS unpriced_events,
    CAST(sum(embedding_events) AS BIGINT) AS embedding_events,
    CAST(sum(llm_events) AS BIGINT) AS llm_events,
    CAST(sum(platform_events) AS BIGINT) AS platform_events,
    CAST(sum(embedding_unpriced_tokens) AS BIGINT) AS embedding_unpriced_tokens,
    CAST(sum(llm_unpriced_tokens) AS BIGINT) AS llm_unpriced_tokens
FROM stg_op_costs
WHERE $since IS NULL OR ts >= $since  -- NULL: every day
GROUP BY ALL
ORDER BY day;
