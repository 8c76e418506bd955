-- Op-log (schema v2) JSON lines of the demo events of one UTC day (temp tables demo_ev and demo_svc, macros in
-- demo_macros.sql). Null members are dropped to keep lines short; `demo` is last and never null, so every
-- dropped member is followed by a comma. Parameters: $seed, $day (days since the window start).
-- columns: ts_us (BIGINT, for ordering), line (VARCHAR JSON object).
SELECT e.ts_us, regexp_replace(to_json(struct_pack(
    schema_version := 2,
    event_id := md5('memlens-demo-event-' || $seed || '-' || e.i),
    ts := strftime(demo_ts(e.ts_us), '%Y-%m-%dT%H:%M:%S.%fZ'),
    service := s.name,
    mode := s.mode,
    call_mode := CASE WHEN e.is_async THEN 'async' ELSE 'sync' END,
    op := e.op,
    user_id := demo_user_id(e.user_idx),
    agent_id := e.agent,
    run_id := CASE WHEN e.run >= 0 THEN 'demo-run-' || lpad(CAST(e.user_idx AS VARCHAR), 4, '0') || '-'
        || lpad(CAST(e.run AS VARCHAR), 3, '0') END,
    latency_ms := e.latency_ms,
    status := CASE WHEN e.ok THEN 'ok' ELSE 'error' END,
    error_type := e.error_type,
    memory_id := CASE WHEN e.target >= 0 AND e.op <> 'add' THEN demo_memory_id($seed, e.target) END,
    "limit" := demo_int(e."limit"),
    top_k := demo_int(e.top_k),
    filter_keys := CASE WHEN e.scope >= 0 THEN list_element(
        [['user_id'], ['user_id', 'run_id'], ['user_id', 'agent_id'], ['agent_id'], []], CAST(e.scope + 1 AS INTEGER)) END,
    rerank := demo_bool(e.rerank),
    threshold := CASE WHEN NOT isnan(e.threshold) THEN e.threshold END,
    result_count := demo_int(e.result_count),
    result_ids := CASE WHEN e.created > 0 THEN
        list_transform(range(e.first_memory, e.first_memory + e.created), lambda k: demo_memory_id($seed, k)) END,
    top_score := CASE WHEN NOT isnan(e.top_score) THEN e.top_score END,
    query_hash := CASE WHEN e.query >= 0 THEN substr(sha256('memlens-demo-query-' || $seed || '-' || e.query), 1, 32) END,
    message_count := demo_int(e.message_count),
    infer := demo_bool(e.infer),
    memories_created := demo_int(e.created),
    memories_updated := demo_int(e.updated),
    memories_deleted := demo_int(e.deleted),
    embedding_model := CASE WHEN e.embedding_tokens >= 0 THEN s.embedding_model END,
    embedding_calls := demo_int(e.embedding_calls),
    embedding_tokens := demo_int(e.embedding_tokens),
    llm_model := CASE WHEN e.llm_in >= 0 THEN $llm_model END,
    llm_input_tokens := demo_int(e.llm_in),
    llm_output_tokens := demo_int(e.llm_out),
    tokens_estimated := CASE WHEN e.embedding_tokens >= 0 OR e.llm_in >= 0 THEN false END,
    cache := e.cache,
    embedding_ms := demo_ms(e.embedding_ms),
    vector_search_ms := demo_ms(e.vector_search_ms),
    vector_read_ms := demo_ms(e.vector_read_ms),
    vector_write_ms := demo_ms(e.vector_write_ms),
    rerank_ms := demo_ms(e.rerank_ms),
    llm_ms := demo_ms(e.llm_ms),
    history_ms := demo_ms(e.history_ms),
    graph_ms := demo_ms(e.graph_ms),
    demo := true
)), '"[a-z_]+":null,', '', 'g') AS line
FROM demo_ev AS e
JOIN demo_svc AS s ON s.idx = e.service
WHERE e.day = $day
ORDER BY e.ts_us;
