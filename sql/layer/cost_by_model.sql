-- cost_by_model: cost per priced thing: each embedding model and each LLM of OSS calls, each op of Platform calls.
-- reads: cost_facts
-- needs: mode op embedding_model llm_model
-- grain: one row per (kind, model) with at least one call (the requested /*keys*/ are added to the grouping):
--   kind 'embedding' / 'llm' = OSS calls that used tokens of that model (model NULL = tokens recorded without a
--   model name); 'platform_call' = Platform calls of an op (model = the op).
-- columns:
--   kind (VARCHAR embedding | llm | platform_call), model (VARCHAR model name, or the op for platform_call)
--   events (BIGINT calls), input_tokens (BIGINT embedding or LLM input tokens), output_tokens (BIGINT LLM output)
--   cached_input_tokens (BIGINT of the LLM input tokens, those served from the provider's prompt cache)
--   usd_per_1m_input, usd_per_1m_output, usd_per_1m_cached_input (DOUBLE USD per 1M tokens), usd_per_call (DOUBLE
--   USD per Platform call)
--   (NULL = no price row: the model's cost shows as 0, warn)
--   cost_usd (DOUBLE USD), cost_share (DOUBLE cost_usd / the cost of all rows, 0..1; NULL when all cost 0)
--   priced (BOOLEAN false when the model / op has no price), unpriced_tokens (BIGINT tokens of this model left
--   unpriced), unpriced_calls (BIGINT Platform calls left unpriced)
WITH by_kind AS (
    SELECT /*keys*/ 'embedding' AS kind, embedding_model AS model, sum(embedding_events) AS events,
           sum(embedding_tokens) AS input_tokens, 0 AS output_tokens, 0 AS cached_input_tokens,
           any_value(embedding_usd_per_1m) AS usd_per_1m_input, CAST(NULL AS DOUBLE) AS usd_per_1m_output,
           CAST(NULL AS DOUBLE) AS usd_per_1m_cached_input,
           CAST(NULL AS DOUBLE) AS usd_per_call, sum(embedding_cost_usd) AS cost_usd,
           sum(embedding_unpriced_tokens) AS unpriced_tokens, 0 AS unpriced_calls
    FROM cost_facts
    WHERE mode = 'oss' AND embedding_events > 0
    GROUP BY ALL
    UNION ALL
    SELECT /*keys*/ 'llm', llm_model, sum(llm_events), sum(llm_input_tokens), sum(llm_output_tokens),
           sum(llm_cached_input_tokens), any_value(llm_input_usd_per_1m), any_value(llm_output_usd_per_1m),
           any_value(llm_cached_input_usd_per_1m), NULL, sum(llm_cost_usd),
           sum(llm_unpriced_tokens), 0
    FROM cost_facts
    WHERE mode = 'oss' AND llm_events > 0
    GROUP BY ALL
    UNION ALL
    SELECT /*keys*/ 'platform_call', op, sum(platform_events), 0, 0, 0, NULL, NULL, NULL,
           any_value(platform_usd_per_call),
           sum(platform_cost_usd), 0, sum(unpriced_calls)
    FROM cost_facts
    WHERE mode = 'platform'
    GROUP BY ALL
)
SELECT /*keys*/
    kind, model, CAST(events AS BIGINT) AS events, CAST(input_tokens AS BIGINT) AS input_tokens,
    CAST(output_tokens AS BIGINT) AS output_tokens, CAST(cached_input_tokens AS BIGINT) AS cached_input_tokens,
    usd_per_1m_input, usd_per_1m_output, usd_per_1m_cached_input, usd_per_call, cost_usd,
    cost_usd / nullif(sum(cost_usd) OVER (), 0) AS cost_share,
    unpriced_tokens = 0 AND unpriced_calls = 0 AS priced,
    CAST(unpriced_tokens AS BIGINT) AS unpriced_tokens, CAST(unpriced_calls AS BIGINT) AS unpriced_calls
FROM by_kind
ORDER BY kind, model
