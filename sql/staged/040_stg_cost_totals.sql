-- stg_cost_totals: the cost totals of stg_op_costs (priced from cfg_prices) per group, stated once for every
-- cost metric view (metric_cost_by_op, _by_user, _by_agent, _daily, _monthly), each of which reads one grouping.
-- grain: one row per (grouped_by, key): grouped_by 'op' -> (mode, op); 'user' -> user_id (NULL = calls without a
-- user scope); 'agent' -> agent_id (NULL = calls without an agent scope); 'day' -> day; 'month' -> month.
-- Key columns outside their grouping are NULL.
-- columns:
--   grouped_by (VARCHAR op | user | agent | day | month)
--   mode (VARCHAR oss | platform), op (VARCHAR Mem0 op), user_id, agent_id (VARCHAR), day, month (DATE UTC)
--   ops (BIGINT calls), searches (BIGINT search calls), demo_events (BIGINT demo rows among ops)
--   embedding_tokens, llm_input_tokens, llm_output_tokens (BIGINT tokens)
--   embedding_cost_usd, llm_cost_usd, platform_cost_usd, total_cost_usd (DOUBLE USD)
--   embedding_share (DOUBLE embedding_cost_usd / total_cost_usd, 0..1; NULL when total is 0)
--   cost_per_1k_ops_usd (DOUBLE USD per 1,000 calls), cost_per_1k_searches_usd (DOUBLE USD of all calls per
--   1,000 searches, the reference's "cost per 1000 queries"; NULL without searches)
--   estimated_token_events (BIGINT calls whose token counts are estimates)
--   unpriced_tokens (BIGINT tokens of models with no price row), unpriced_calls (BIGINT platform calls of an
--   op with no price row), priced (BOOLEAN false when anything in the group lacked a price: warn)
-- Cost of one grouping: every event is paired with each grouping label, but a filter on grouped_by is pushed
-- into the label list, so `WHERE grouped_by = 'op'` is one grouped scan of stg_op_costs; aggregates a view does
-- not read are not computed. Measured at 1M events: ~1.3x a hand-written GROUP BY (the per-row CASE keys);
-- GROUPING SETS would compute every set for each view (~1.8x).
CREATE OR REPLACE VIEW stg_cost_totals AS
SELECT
    grouped_by, mode, op, user_id, agent_id, day, month, ops, searches, demo_events,
    embedding_tokens, llm_input_tokens, llm_output_tokens,
    embedding_cost_usd, llm_cost_usd, platform_cost_usd, total_cost_usd,
    embedding_cost_usd / nullif(total_cost_usd, 0) AS embedding_share,
    total_cost_usd * 1000.0 / ops AS cost_per_1k_ops_usd,
    total_cost_usd * 1000.0 / nullif(searches, 0) AS cost_per_1k_searches_usd,
    estimated_token_events, unpriced_tokens, unpriced_calls, priced
FROM (
    SELECT
        g.grouped_by,
        CASE WHEN g.grouped_by = 'op' THEN c.mode END AS mode,
        CASE WHEN g.grouped_by = 'op' THEN c.op END AS op,
        CASE WHEN g.grouped_by = 'user' THEN c.user_id END AS user_id,
        CASE WHEN g.grouped_by = 'agent' THEN c.agent_id END AS agent_id,
        CASE WHEN g.grouped_by = 'day' THEN c.day END AS day,
        CASE WHEN g.grouped_by = 'month' THEN c.month END AS month,
        count(*) AS ops,
        count(*) FILTER (WHERE c.is_search) AS searches,
        count(*) FILTER (WHERE c.is_demo) AS demo_events,
        CAST(sum(c.embedding_tokens) AS BIGINT) AS embedding_tokens,
        CAST(sum(c.llm_input_tokens) AS BIGINT) AS llm_input_tokens,
        CAST(sum(c.llm_output_tokens) AS BIGINT) AS llm_output_tokens,
        sum(c.embedding_cost_usd) AS embedding_cost_usd,
        sum(c.llm_cost_usd) AS llm_cost_usd,
        sum(c.platform_cost_usd) AS platform_cost_usd,
        sum(c.total_cost_usd) AS total_cost_usd,
        count(*) FILTER (WHERE c.tokens_estimated) AS estimated_token_events,
        CAST(sum(c.unpriced_tokens) AS BIGINT) AS unpriced_tokens,
        CAST(sum(c.unpriced_calls) AS BIGINT) AS unpriced_calls,
        bool_and(c.priced) AS priced
    FROM stg_op_costs AS c
    CROSS JOIN (VALUES ('op'), ('user'), ('agent'), ('day'), ('month')) AS g (grouped_by)
    GROUP BY ALL
);
