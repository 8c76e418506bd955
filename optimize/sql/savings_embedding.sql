-- OSS embedding spend by model: one row per embedding_model, dearest first.
-- Columns: embedding_model, calls, tokens, usd_per_1m, cost_usd. No parameters.
SELECT embedding_model, count(*) AS calls, sum(embedding_tokens) AS tokens,
       any_value(embedding_usd_per_1m) AS usd_per_1m, sum(embedding_cost_usd) AS cost_usd
FROM stg_op_costs WHERE mode = 'oss' AND embedding_tokens > 0 AND embedding_model IS NOT NULL
GROUP BY 1 ORDER BY cost_usd DESC
