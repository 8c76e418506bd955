-- stg_op_costs: what each operation cost, priced from cfg_prices (memlens/defaults.yaml `prices`).
-- grain: one row per operation event (event_id), same rows as stg_op_events.
-- Pricing rules: mode 'oss' pays for its own model calls: embedding_tokens x embedding usd_per_1m_input / 1e6,
-- llm_input_tokens x llm usd_per_1m_input / 1e6, llm_output_tokens x llm usd_per_1m_output / 1e6; of the input
-- tokens, those the provider served from its prompt cache (llm_cached_input_tokens) are billed at the model's
-- usd_per_1m_cached_input instead (the input rate where the price table has none).
-- Mode 'platform' pays Mem0's per-call price for the op (cfg_prices kind 'platform_call'); the models run
-- inside Mem0's service, so platform token counts (if any) are not priced again. A model matches its price
-- row by exact name, else by its last path segment ('sentence-transformers/all-MiniLM-L6-v2' ->
-- 'all-MiniLM-L6-v2'). A model with no price row costs 0 here but is never silent: its tokens land in
-- unpriced_tokens and priced is false, so pages can warn.
-- columns:
--   event_id, ts (TIMESTAMP UTC), day, week, month (DATE UTC), hour (TIMESTAMP UTC), service, mode, call_mode,
--   op, status, user_id, agent_id, run_id, tag, is_demo (BOOLEAN), is_search (BOOLEAN, op = 'search'),
--   embedding_model, llm_model (VARCHAR), tokens_estimated (BOOLEAN, token counts are estimates)
--   embedding_tokens, llm_input_tokens, llm_output_tokens (BIGINT tokens, NULL read as 0)
--   llm_cached_input_tokens (BIGINT of llm_input_tokens, those served from the provider's prompt cache; NULL read
--   as 0, capped at llm_input_tokens)
--   embedding_usd_per_1m, llm_input_usd_per_1m, llm_output_usd_per_1m (DOUBLE USD per 1M tokens, NULL = no row)
--   llm_cached_input_usd_per_1m (DOUBLE USD per 1M cached prompt tokens: the price table's cached_input, else the
--   input rate; NULL = no row)
--   platform_usd_per_call (DOUBLE USD per call, NULL = no row)
--   infer (BOOLEAN add's infer=, NULL for other ops or not recorded), message_count (INTEGER messages of an add)
--   add_outcome (VARCHAR what a successful add stored, for the LLM-side advice; NULL for other ops, failed adds
--   and adds that recorded no memory counts): 'stored_nothing' (created, updated and deleted all 0: a no-op add),
--   'one_per_message' (exactly one memory created per message, nothing updated or deleted: the LLM passed the
--   messages through as facts), 'other'. An unrecorded updated / deleted count is read as 0.
--   embedding_cost_usd, llm_input_cost_usd, llm_output_cost_usd, llm_cost_usd, platform_cost_usd,
--   total_cost_usd (DOUBLE USD; llm_input_cost = uncached input x input rate + cached input x cached rate;
--   llm_cost = input + output; total = embedding + llm + platform)
--   embedding_priced, llm_priced, platform_priced (BOOLEAN, false only when a price was needed and missing)
--   priced (BOOLEAN, all three priced)
--   unpriced_tokens (BIGINT tokens of OSS models with no price row: embedding + llm input + llm output)
--   unpriced_calls (INTEGER 0/1, a platform call whose op has no platform_call price row)
--   additive call counts for the metric layer and the rollups (INTEGER 0/1 here, summed there): ops (1),
--   searches (op = 'search'), estimated_token_events (tokens_estimated), unpriced_events (NOT priced),
--   embedding_events (OSS calls that used embedding tokens), llm_events (OSS calls that used LLM tokens),
--   platform_events (mode 'platform' calls); embedding_unpriced_tokens, llm_unpriced_tokens (BIGINT the two
--   parts of unpriced_tokens)
-- Cheap: a projection with three hash joins against small price tables (one row per distinct model / op).
CREATE OR REPLACE VIEW stg_op_costs AS
WITH ev AS (
    SELECT
        e.event_id, e.ts, e.day, e.week, e.month, e.hour, e.service, e.mode, e.call_mode, e.op, e.status,
        e.user_id, e.agent_id, e.run_id, e.tag, e.is_demo, e.op = 'search' AS is_search,
        e.embedding_model, e.llm_model, e.tokens_estimated,
        CASE WHEN e.op = 'add' THEN e.infer END AS infer,
        CASE WHEN e.op = 'add' THEN e.message_count END AS message_count,
        CASE WHEN e.op <> 'add' OR e.status <> 'ok' OR e.memories_created IS NULL THEN NULL
             WHEN e.memories_created = 0 AND coalesce(e.memories_updated, 0) = 0
                  AND coalesce(e.memories_deleted, 0) = 0 THEN 'stored_nothing'
             WHEN e.memories_created = coalesce(e.message_count, 1) AND coalesce(e.memories_updated, 0) = 0
                  AND coalesce(e.memories_deleted, 0) = 0 THEN 'one_per_message'
             ELSE 'other' END AS add_outcome,
        CAST(coalesce(e.embedding_tokens, 0) AS BIGINT) AS embedding_tokens,
        CAST(coalesce(e.llm_input_tokens, 0) AS BIGINT) AS llm_input_tokens,
        CAST(coalesce(e.llm_output_tokens, 0) AS BIGINT) AS llm_output_tokens,
        CAST(least(coalesce(e.llm_cached_input_tokens, 0), coalesce(e.llm_input_tokens, 0)) AS BIGINT)
            AS llm_cached_input_tokens
    FROM stg_op_events AS e
),
-- Each distinct model name is priced once (exact name, else its last path segment), so the per-event work is
-- one hash join per kind instead of a regexp and two joins per event.
embedding_price AS (
    SELECT m.model, coalesce(p1.usd_per_1m_input, p2.usd_per_1m_input) AS usd_per_1m
    FROM (SELECT DISTINCT embedding_model AS model FROM raw_op_events WHERE embedding_model IS NOT NULL) AS m
    LEFT JOIN cfg_prices AS p1 ON p1.kind = 'embedding' AND p1.model = m.model
    LEFT JOIN cfg_prices AS p2 ON p2.kind = 'embedding' AND p2.model = regexp_extract(m.model, '[^/]+$')
),
llm_price AS (
    SELECT m.model,
           coalesce(p1.usd_per_1m_input, p2.usd_per_1m_input) AS usd_per_1m_input,
           coalesce(p1.usd_per_1m_output, p2.usd_per_1m_output) AS usd_per_1m_output,
           CASE WHEN p1.model IS NOT NULL THEN coalesce(p1.usd_per_1m_cached_input, p1.usd_per_1m_input)
                ELSE coalesce(p2.usd_per_1m_cached_input, p2.usd_per_1m_input) END AS usd_per_1m_cached_input
    FROM (SELECT DISTINCT llm_model AS model FROM raw_op_events WHERE llm_model IS NOT NULL) AS m
    LEFT JOIN cfg_prices AS p1 ON p1.kind = 'llm' AND p1.model = m.model
    LEFT JOIN cfg_prices AS p2 ON p2.kind = 'llm' AND p2.model = regexp_extract(m.model, '[^/]+$')
),
priced AS (
    SELECT
        ev.*,
        pe.usd_per_1m AS embedding_usd_per_1m,
        pl.usd_per_1m_input AS llm_input_usd_per_1m,
        pl.usd_per_1m_output AS llm_output_usd_per_1m,
        pl.usd_per_1m_cached_input AS llm_cached_input_usd_per_1m,
        pp.usd_per_call AS platform_usd_per_call,
        ev.mode = 'oss' AND ev.embedding_tokens > 0 AS needs_embedding_price,
        ev.mode = 'oss' AND (ev.llm_input_tokens + ev.llm_output_tokens) > 0 AS needs_llm_price,
        ev.mode = 'platform' AS needs_platform_price
    FROM ev
    LEFT JOIN embedding_price AS pe ON pe.model = ev.embedding_model
    LEFT JOIN llm_price AS pl ON pl.model = ev.llm_model
    LEFT JOIN cfg_prices AS pp ON pp.kind = 'platform_call' AND pp.model = ev.op
),
costed AS (
    SELECT
        p.*,
        CASE WHEN p.mode = 'oss' THEN p.embedding_tokens * coalesce(p.embedding_usd_per_1m, 0) / 1e6 ELSE 0 END
            AS embedding_cost_usd,
        CASE WHEN p.mode = 'oss' THEN ((p.llm_input_tokens - p.llm_cached_input_tokens)
                                           * coalesce(p.llm_input_usd_per_1m, 0)
                                       + p.llm_cached_input_tokens * coalesce(p.llm_cached_input_usd_per_1m, 0)) / 1e6
             ELSE 0 END AS llm_input_cost_usd,
        CASE WHEN p.mode = 'oss' THEN p.llm_output_tokens * coalesce(p.llm_output_usd_per_1m, 0) / 1e6 ELSE 0 END
            AS llm_output_cost_usd,
        CASE WHEN p.needs_platform_price THEN coalesce(p.platform_usd_per_call, 0) ELSE 0 END AS platform_cost_usd,
        NOT (p.needs_embedding_price AND p.embedding_usd_per_1m IS NULL) AS embedding_priced,
        NOT (p.needs_llm_price AND (p.llm_input_usd_per_1m IS NULL OR p.llm_output_usd_per_1m IS NULL))
            AS llm_priced,
        NOT (p.needs_platform_price AND p.platform_usd_per_call IS NULL) AS platform_priced
    FROM priced AS p
)
SELECT
    event_id, ts, day, week, month, hour, service, mode, call_mode, op, status,
    user_id, agent_id, run_id, tag, is_demo, is_search,
    embedding_model, llm_model, tokens_estimated,
    embedding_tokens, llm_input_tokens, llm_output_tokens, llm_cached_input_tokens,
    embedding_usd_per_1m, llm_input_usd_per_1m, llm_output_usd_per_1m, llm_cached_input_usd_per_1m,
    platform_usd_per_call, infer, message_count, add_outcome,
    embedding_cost_usd, llm_input_cost_usd, llm_output_cost_usd,
    llm_input_cost_usd + llm_output_cost_usd AS llm_cost_usd,
    platform_cost_usd,
    embedding_cost_usd + llm_input_cost_usd + llm_output_cost_usd + platform_cost_usd AS total_cost_usd,
    embedding_priced, llm_priced, platform_priced,
    embedding_priced AND llm_priced AND platform_priced AS priced,
    CASE WHEN embedding_priced THEN 0 ELSE embedding_tokens END
        + CASE WHEN llm_priced THEN 0 ELSE llm_input_tokens + llm_output_tokens END AS unpriced_tokens,
    CASE WHEN platform_priced THEN 0 ELSE 1 END AS unpriced_calls,
    1 AS ops,
    CASE WHEN is_search THEN 1 ELSE 0 END AS searches,
    CASE WHEN tokens_estimated THEN 1 ELSE 0 END AS estimated_token_events,
    CASE WHEN embedding_priced AND llm_priced AND platform_priced THEN 0 ELSE 1 END AS unpriced_events,
    CASE WHEN needs_embedding_price THEN 1 ELSE 0 END AS embedding_events,
    CASE WHEN needs_llm_price THEN 1 ELSE 0 END AS llm_events,
    CASE WHEN needs_platform_price THEN 1 ELSE 0 END AS platform_events,
    CASE WHEN embedding_priced THEN 0 ELSE embedding_tokens END AS embedding_unpriced_tokens,
    CASE WHEN llm_priced THEN 0 ELSE llm_input_tokens + llm_output_tokens END AS llm_unpriced_tokens
FROM costed;
