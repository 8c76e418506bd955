-- oplog_checked: the lines of the current batch (view `oplog_chunk(line_no, line)`), parsed and validated.
-- grain: line_no (blank lines skipped). columns: line_no, reason (NULL here; set by oplog_reasons.sql on the
-- lines that are not fast_ok), is_json, is_object, ts_text (the raw ts), fast_ok (BOOLEAN loadable on the
-- fast path), then the schema-v1 columns typed as in raw_op_events.
--
-- A field is valid when its JSON type fits (a number is not a string, 1.5 is not an integer; absent or null
-- = not given) and its value casts to the column type (2^40 is not an INTEGER); ts must be an ISO 8601 string
-- (an offset is converted to UTC). Fast path: one typed parse (from_json) and one pass for the JSON types of
-- all fields (json_type with every path, as text); each distinct type list (a log has a handful: the shapes
-- of its events) is matched once against $type_pattern, and the number of fields given must equal the number
-- of typed values (nothing failed to cast). Lines that miss it get per-field reasons in oplog_reasons.sql.
-- The field lists below follow memlens/schema.py FIELDS order (tests/test_collect_oplog.py checks it).
-- Parameters (from memlens/schema.py and the config): $paths (JSON path per field), $type_pattern (regex over
-- the list of JSON types), $schema_version (highest supported), $ops, $modes,
-- $call_modes, $statuses, $cache_outcomes (the schema's choices), $max_latency_ms, $latest_ts (now + allowed
-- clock skew), $earliest_ts (collector.min_ts).
CREATE OR REPLACE TEMP TABLE oplog_checked AS
WITH lines AS (
    SELECT line_no, line,
           json_valid(line) AND (starts_with(line, '{') OR starts_with(ltrim(line), '{')) AS is_object,
           json_valid(line) AS is_json
    FROM oplog_chunk
    -- blank lines are not records (the cheap test first: trimming every line costs as much as parsing it)
    WHERE starts_with(line, '{') OR trim(line, chr(32) || chr(9) || chr(10) || chr(13)) <> ''
), parsed AS MATERIALIZED (
    SELECT line_no, line, is_json, is_object,
        CASE WHEN is_object THEN from_json(line,
            '{"schema_version": "INTEGER", "event_id": "VARCHAR", "ts": "VARCHAR", "service": "VARCHAR",
             "mode": "VARCHAR", "call_mode": "VARCHAR", "op": "VARCHAR", "user_id": "VARCHAR",
             "agent_id": "VARCHAR", "run_id": "VARCHAR", "latency_ms": "DOUBLE", "status": "VARCHAR",
             "error_type": "VARCHAR", "memory_id": "VARCHAR", "limit": "INTEGER", "top_k": "INTEGER",
             "filter_keys": "VARCHAR[]", "rerank": "BOOLEAN", "threshold": "DOUBLE", "result_count": "INTEGER",
             "result_ids": "VARCHAR[]", "top_score": "DOUBLE", "query_hash": "VARCHAR",
             "query_text": "VARCHAR", "message_count": "INTEGER", "infer": "BOOLEAN",
             "memories_created": "INTEGER", "memories_updated": "INTEGER", "memories_deleted": "INTEGER",
             "embedding_model": "VARCHAR", "embedding_calls": "INTEGER", "embedding_tokens": "INTEGER",
             "llm_model": "VARCHAR", "llm_input_tokens": "INTEGER", "llm_output_tokens": "INTEGER",
             "tokens_estimated": "BOOLEAN", "cache": "VARCHAR", "tag": "VARCHAR", "demo": "BOOLEAN"}') END AS t,
        CASE WHEN is_object THEN json_type(line, $paths)::VARCHAR END AS types
    FROM lines
), signatures AS (
    -- a log has few distinct type lists (shapes of events): each is checked once, not once per line
    SELECT types, regexp_full_match(types, $type_pattern) AS types_ok,
           len($paths) - (length(types) - length(replace(types, 'NULL', ''))) // 4 AS n_given
    FROM (SELECT DISTINCT types FROM parsed WHERE types IS NOT NULL)
), typed AS (
    SELECT line_no, line, is_json, is_object, types_ok, n_given, t,
        t.schema_version, t.event_id, TRY_CAST(TRY_CAST(t.ts AS TIMESTAMPTZ) AS TIMESTAMP) AS ts, t.service,
        t.mode, t.call_mode, t.op, t.user_id, t.agent_id, t.run_id, t.latency_ms, t.status, t.error_type,
        t.memory_id, t."limit", t.top_k, t.filter_keys, t.rerank, t.threshold, t.result_count, t.result_ids,
        t.top_score, t.query_hash, t.query_text, t.message_count, t.infer, t.memories_created, t.memories_updated,
        t.memories_deleted, t.embedding_model, t.embedding_calls, t.embedding_tokens, t.llm_model,
        t.llm_input_tokens, t.llm_output_tokens, t.tokens_estimated, t.cache, t.tag, t.demo,
        t.ts AS ts_text,
        -- typed values present: equal to the number of non-null fields only when every one of them cast
        (t.schema_version IS NOT NULL)::INT + (t.event_id IS NOT NULL)::INT + (t.ts IS NOT NULL)::INT +
        (t.service IS NOT NULL)::INT + (t.mode IS NOT NULL)::INT + (t.call_mode IS NOT NULL)::INT +
        (t.op IS NOT NULL)::INT + (t.user_id IS NOT NULL)::INT + (t.agent_id IS NOT NULL)::INT +
        (t.run_id IS NOT NULL)::INT + (t.latency_ms IS NOT NULL)::INT + (t.status IS NOT NULL)::INT +
        (t.error_type IS NOT NULL)::INT + (t.memory_id IS NOT NULL)::INT + (t."limit" IS NOT NULL)::INT +
        (t.top_k IS NOT NULL)::INT + (t.filter_keys IS NOT NULL)::INT + (t.rerank IS NOT NULL)::INT +
        (t.threshold IS NOT NULL)::INT + (t.result_count IS NOT NULL)::INT + (t.result_ids IS NOT NULL)::INT +
        (t.top_score IS NOT NULL)::INT + (t.query_hash IS NOT NULL)::INT + (t.query_text IS NOT NULL)::INT +
        (t.message_count IS NOT NULL)::INT + (t.infer IS NOT NULL)::INT + (t.memories_created IS NOT NULL)::INT +
        (t.memories_updated IS NOT NULL)::INT + (t.memories_deleted IS NOT NULL)::INT +
        (t.embedding_model IS NOT NULL)::INT + (t.embedding_calls IS NOT NULL)::INT +
        (t.embedding_tokens IS NOT NULL)::INT + (t.llm_model IS NOT NULL)::INT +
        (t.llm_input_tokens IS NOT NULL)::INT + (t.llm_output_tokens IS NOT NULL)::INT +
        (t.tokens_estimated IS NOT NULL)::INT + (t.cache IS NOT NULL)::INT + (t.tag IS NOT NULL)::INT +
        (t.demo IS NOT NULL)::INT AS n_typed
    FROM parsed LEFT JOIN signatures USING (types)
)
SELECT line_no, NULL::VARCHAR AS reason, is_json, is_object, ts_text,
    coalesce(is_object AND types_ok AND n_given = n_typed
        AND service IS NOT NULL  -- NULL in any other required field fails a check below
        AND schema_version BETWEEN 1 AND $schema_version AND event_id <> ''
        AND coalesce(least(schema_version, "limit", top_k, result_count, message_count, memories_created,
                           memories_updated, memories_deleted, embedding_calls, embedding_tokens,
                           llm_input_tokens, llm_output_tokens), 0) >= 0
        AND ts IS NOT NULL AND ts <= $latest_ts AND ts >= $earliest_ts
        AND isfinite(latency_ms) AND latency_ms >= 0 AND latency_ms < $max_latency_ms
        AND coalesce(isfinite(threshold), true) AND coalesce(isfinite(top_score), true)
        AND list_contains($modes, mode) AND list_contains($call_modes, call_mode) AND list_contains($ops, op)
        AND list_contains($statuses, status) AND (cache IS NULL OR list_contains($cache_outcomes, cache)),
        false) AS fast_ok,
    schema_version, event_id, ts, service, mode, call_mode, op, user_id, agent_id, run_id, latency_ms, status,
    error_type, memory_id, "limit", top_k, filter_keys, rerank, threshold, result_count, result_ids, top_score,
    query_hash, query_text, message_count, infer, memories_created, memories_updated, memories_deleted,
    embedding_model, embedding_calls, embedding_tokens, llm_model, llm_input_tokens, llm_output_tokens,
    tokens_estimated, cache, tag, demo
FROM typed;
