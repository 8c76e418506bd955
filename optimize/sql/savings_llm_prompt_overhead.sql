-- The part of an add's LLM prompt that does not grow with its messages (Mem0's extraction instructions), per LLM:
-- the intercept of a least-squares line of prompt tokens against messages per add, over successful OSS adds that
-- ran the LLM. Batching messages into one add pays this part once instead of once per add.
-- grain: one row per llm_model.
-- columns: llm_model, adds (BIGINT), avg_messages (DOUBLE messages per add), avg_prompt_tokens (DOUBLE),
--   tokens_per_message (DOUBLE slope), fixed_prompt_tokens (DOUBLE intercept; NULL when every add carried the same
--   number of messages: nothing to fit), usd_per_prompt_token (DOUBLE the model's input cost per prompt token as
--   billed: cached tokens at the cached rate, from stg_op_costs)
SELECT llm_model, count(*) AS adds, avg(message_count) AS avg_messages, avg(llm_input_tokens) AS avg_prompt_tokens,
       regr_slope(llm_input_tokens, message_count) AS tokens_per_message,
       regr_intercept(llm_input_tokens, message_count) AS fixed_prompt_tokens,
       sum(llm_input_cost_usd) / nullif(sum(llm_input_tokens), 0) AS usd_per_prompt_token
FROM stg_op_costs
WHERE op = 'add' AND mode = 'oss' AND status = 'ok' AND llm_input_tokens > 0 AND message_count IS NOT NULL
GROUP BY llm_model
ORDER BY adds DESC, llm_model
