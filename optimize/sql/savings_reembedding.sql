-- Searches whose (user, query_hash) was embedded before: one row per repeated (user_id, query_hash).
-- Columns: user_id, query_hash, repeats, tokens, cost_usd (of the repeats only). No parameters.
WITH s AS (
    SELECT e.user_id, e.query_hash, c.embedding_tokens, c.embedding_cost_usd,
           row_number() OVER (PARTITION BY e.user_id, e.query_hash ORDER BY e.ts, e.event_id) AS nth
    FROM stg_op_events AS e JOIN stg_op_costs AS c USING (event_id)
    WHERE e.op = 'search' AND e.status = 'ok' AND e.query_hash IS NOT NULL AND c.embedding_tokens > 0
)
SELECT user_id, query_hash, count(*) - 1 AS repeats, sum(embedding_tokens) FILTER (WHERE nth > 1) AS tokens,
       coalesce(sum(embedding_cost_usd) FILTER (WHERE nth > 1), 0) AS cost_usd
FROM s GROUP BY 1, 2 HAVING count(*) > 1 ORDER BY cost_usd DESC, repeats DESC
