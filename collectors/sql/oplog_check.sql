-- oplog_checked: the lines of the current batch (temp table `oplog_chunk(line_no, line)`), parsed and
-- validated. grain: line_no (blank lines skipped). columns: line_no, reason (NULL = loadable, else the
-- first problem found, naming the field), then the schema-v1 columns typed as in raw_op_events.
--
-- Two parses per line: `json_type(line, $paths)` gives every field's JSON type (strict type checks: a
-- string is not a number, 1.5 is not an integer), and `from_json` gives the typed values. The field lists
-- below follow memlens/schema.py FIELDS order (tests/test_collect_oplog.py checks it).
-- Parameters (from memlens/schema.py and the config): $names, $paths, $allowed (JSON types accepted per
-- field), $expected (their description), $required (per field), $int_names (the integer fields),
-- $schema_version, $ops, $modes, $call_modes, $statuses, $cache_outcomes, $max_latency_ms, $latest_ts.
CREATE OR REPLACE TEMP TABLE oplog_checked AS
WITH lines AS (
    SELECT line_no, line, json_valid(line) AS is_json,
           starts_with(line, '{') OR starts_with(ltrim(line), '{') AS is_object
    FROM oplog_chunk
    -- blank lines are not records (the cheap test first: trimming every line costs as much as parsing it)
    WHERE starts_with(line, '{') OR trim(line, chr(32) || chr(9) || chr(10) || chr(13)) <> ''
), parsed AS (
    SELECT line_no, line, is_json, is_object,
        CASE WHEN is_json AND is_object THEN json_type(line, $paths) END AS ty,
        CASE WHEN is_json AND is_object THEN from_json(line,
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
             "tokens_estimated": "BOOLEAN", "cache": "VARCHAR", "tag": "VARCHAR", "demo": "BOOLEAN"}') END AS t
    FROM lines
), typed AS (
    SELECT line_no, line, is_json, is_object, ty,
        t.schema_version, t.event_id, TRY_CAST(TRY_CAST(t.ts AS TIMESTAMPTZ) AS TIMESTAMP) AS ts, t.service,
        t.mode, t.call_mode, t.op, t.user_id, t.agent_id, t.run_id, t.latency_ms, t.status, t.error_type,
        t.memory_id, t."limit", t.top_k, t.filter_keys, t.rerank, t.threshold, t.result_count, t.result_ids,
        t.top_score, t.query_hash, t.query_text, t.message_count, t.infer, t.memories_created, t.memories_updated,
        t.memories_deleted, t.embedding_model, t.embedding_calls, t.embedding_tokens, t.llm_model,
        t.llm_input_tokens, t.llm_output_tokens, t.tokens_estimated, t.cache, t.tag, t.demo,
        -- which typed values are NULL, and the integer fields' values, in schema order
        [
            t.schema_version IS NULL, t.event_id IS NULL, t.ts IS NULL, t.service IS NULL, t.mode IS NULL,
            t.call_mode IS NULL, t.op IS NULL, t.user_id IS NULL, t.agent_id IS NULL, t.run_id IS NULL,
            t.latency_ms IS NULL, t.status IS NULL, t.error_type IS NULL, t.memory_id IS NULL, t."limit" IS NULL,
            t.top_k IS NULL, t.filter_keys IS NULL, t.rerank IS NULL, t.threshold IS NULL, t.result_count IS NULL,
            t.result_ids IS NULL, t.top_score IS NULL, t.query_hash IS NULL, t.query_text IS NULL,
            t.message_count IS NULL, t.infer IS NULL, t.memories_created IS NULL, t.memories_updated IS NULL,
            t.memories_deleted IS NULL, t.embedding_model IS NULL, t.embedding_calls IS NULL,
            t.embedding_tokens IS NULL, t.llm_model IS NULL, t.llm_input_tokens IS NULL,
            t.llm_output_tokens IS NULL, t.tokens_estimated IS NULL, t.cache IS NULL, t.tag IS NULL,
            t.demo IS NULL
        ] AS typed_null,
        [
            t.schema_version, t."limit", t.top_k, t.result_count, t.message_count, t.memories_created,
            t.memories_updated, t.memories_deleted, t.embedding_calls, t.embedding_tokens, t.llm_input_tokens,
            t.llm_output_tokens
        ] AS ints,
        t.ts AS ts_text
    FROM parsed
), checked AS (
    SELECT *,
        list_filter(range(1, len($names) + 1), lambda i: $required[i] AND coalesce(ty[i], 'NULL') = 'NULL')
            AS missing,
        list_filter(range(1, len($names) + 1), lambda i: NOT list_contains($allowed[i], coalesce(ty[i], 'NULL')))
            AS wrong_type,
        list_filter(range(1, len($names) + 1), lambda i: coalesce(ty[i], 'NULL') <> 'NULL' AND typed_null[i])
            AS uncastable,
        list_filter(range(1, len(ints) + 1), lambda i: ints[i] < 0) AS negative
    FROM typed
)
SELECT line_no,
    coalesce(
        CASE WHEN NOT is_json THEN 'invalid JSON (truncated or malformed line)' END,
        CASE WHEN NOT is_object THEN 'not a JSON object (got ' || lower(json_type(line)) || ')' END,
        CASE WHEN ty[1] IS NOT NULL AND ty[1] NOT IN ('BIGINT', 'UBIGINT')
             THEN 'schema_version: expected integer, got ' || lower(ty[1]) END,
        CASE WHEN schema_version > $schema_version OR schema_version < 1
             THEN 'schema_version ' || schema_version || ' not supported (this collector reads 1..'
                  || $schema_version || ')' END,
        CASE WHEN len(missing) > 0 THEN 'missing required field ' || $names[missing[1]] END,
        CASE WHEN len(wrong_type) > 0 THEN $names[wrong_type[1]] || ': expected ' || $expected[wrong_type[1]]
                  || ', got ' || lower(ty[wrong_type[1]]) END,
        CASE WHEN len(uncastable) > 0 THEN $names[uncastable[1]] || ': value out of range or not readable as '
                  || $expected[uncastable[1]] || ' ("' || left(json_extract_string(line, $paths[uncastable[1]]), 40)
                  || '")' END,
        CASE WHEN len(negative) > 0 THEN $int_names[negative[1]] || ': negative (' || ints[negative[1]] || ')' END,
        CASE WHEN event_id = '' THEN 'event_id: empty string' END,
        CASE WHEN ts IS NULL THEN 'ts: not an ISO 8601 timestamp ("' || left(ts_text, 40) || '")' END,
        CASE WHEN ts > $latest_ts THEN 'ts: ' || strftime(ts, '%Y-%m-%dT%H:%M:%S') || ' is in the future' END,
        ml_finite_err(latency_ms, 'latency_ms'),
        CASE WHEN latency_ms < 0 THEN 'latency_ms: negative (' || latency_ms || ')' END,
        CASE WHEN latency_ms >= $max_latency_ms
             THEN 'latency_ms: ' || latency_ms || ' is not below collector.max_latency_ms ' || $max_latency_ms END,
        ml_finite_err(threshold, 'threshold'),
        ml_finite_err(top_score, 'top_score'),
        ml_choice_err(mode, 'mode', $modes),
        ml_choice_err(call_mode, 'call_mode', $call_modes),
        ml_choice_err(op, 'op', $ops),
        ml_choice_err(status, 'status', $statuses),
        ml_choice_err(cache, 'cache', $cache_outcomes)
    ) AS reason,
    schema_version, event_id, ts, service, mode, call_mode, op, user_id, agent_id, run_id, latency_ms, status,
    error_type, memory_id, "limit", top_k, filter_keys, rerank, threshold, result_count, result_ids, top_score,
    query_hash, query_text, message_count, infer, memories_created, memories_updated, memories_deleted,
    embedding_model, embedding_calls, embedding_tokens, llm_model, llm_input_tokens, llm_output_tokens,
    tokens_estimated, cache, tag, demo
FROM checked;
