-- Synthetic schema-v1 events for bench/layer_bench.py, generated inside DuckDB from range() (10M in seconds).
-- Shape close to `memlens demo`: 30 days, Zipf-like users (u0000 heaviest), 4 services, 7 ops, lognormal
-- latency (Box-Muller), cache outcomes on most searches, tokens and models. Parameters: $n (events),
-- $end (TIMESTAMP, end of the window). Every row is demo=true; columns by name (the later schemas' phase and
-- cached-token columns stay NULL).
INSERT INTO raw_op_events BY NAME
SELECT
    1 AS schema_version,
    md5('bench-' || i) AS event_id,
    $end - to_microseconds(CAST(floor(random() * 30 * 86400e6) AS BIGINT)) AS ts,
    list_element(['chat-api', 'chat-api', 'support-worker', 'knowledge-sync', 'platform-gateway'],
                 1 + CAST(i % 5 AS INTEGER)) AS service,
    CASE WHEN i % 5 = 4 THEN 'platform' ELSE 'oss' END AS mode,
    CASE WHEN i % 3 = 0 THEN 'async' ELSE 'sync' END AS call_mode,
    op,
    CASE WHEN op IN ('search', 'get_all') AND (i // 7) % 20 = 0 THEN NULL
         ELSE 'u' || lpad(CAST(CAST(floor(pow(random(), 3) * 500) AS INTEGER) AS VARCHAR), 4, '0') END AS user_id,
    list_element(['assistant', 'planner', 'support-bot', NULL], 1 + CAST((i // 3) % 4 AS INTEGER)) AS agent_id,
    NULL AS run_id,
    CASE WHEN cache = 'hit' THEN exp(ln(1.5) + 0.3 * z) ELSE exp(ln(CASE op WHEN 'add' THEN 120 WHEN 'search' THEN 35
         ELSE 12 END) + 0.6 * z) * CASE WHEN random() < 0.01 THEN 8 ELSE 1 END END AS latency_ms,
    CASE WHEN random() < 0.005 THEN 'error' ELSE 'ok' END AS status,
    NULL AS error_type, NULL AS memory_id,
    CASE WHEN op = 'search' AND i % 7 = 0 THEN 5 END AS "limit",
    CASE WHEN op IN ('search', 'get_all') THEN list_element([5, 10, 20, 50], 1 + CAST((i // 11) % 4 AS INTEGER)) END
        AS top_k,
    CASE WHEN op IN ('search', 'get_all') THEN ['user_id'] END AS filter_keys,
    CASE WHEN op = 'search' THEN (i // 13) % 7 = 0 END AS rerank,
    NULL AS threshold,
    CASE WHEN op IN ('search', 'get_all') THEN CAST((i // 17) % 20 AS INTEGER) END AS result_count,
    NULL AS result_ids, NULL AS top_score,
    CASE WHEN op = 'search' THEN md5('q' || CAST(floor(pow(random(), 4) * 5000) AS INTEGER)) END AS query_hash,
    NULL AS query_text,
    CASE WHEN op = 'add' THEN 1 + CAST(i % 4 AS INTEGER) END AS message_count,
    CASE WHEN op = 'add' THEN i % 2 = 0 END AS infer,
    NULL AS memories_created, NULL AS memories_updated, NULL AS memories_deleted,
    CASE WHEN i % 5 = 3 THEN 'text-embedding-3-large' WHEN i % 5 <> 4 THEN 'text-embedding-3-small' END
        AS embedding_model,
    1 AS embedding_calls,
    CASE WHEN cache = 'hit' THEN 0 ELSE 10 + CAST(i % 90 AS INTEGER) END AS embedding_tokens,
    CASE WHEN op = 'add' AND i % 2 = 0 THEN 'gpt-4o-mini' END AS llm_model,
    CASE WHEN op = 'add' AND i % 2 = 0 THEN 400 + CAST(i % 600 AS INTEGER) END AS llm_input_tokens,
    CASE WHEN op = 'add' AND i % 2 = 0 THEN 50 + CAST(i % 80 AS INTEGER) END AS llm_output_tokens,
    false AS tokens_estimated,
    cache,
    NULL AS tag,
    true AS demo,
    'bench.jsonl' AS source_file,
    i AS source_line,
    $end AS ingested_at
FROM (
    SELECT
        i,
        list_element(['search', 'search', 'search', 'search', 'search', 'add', 'add', 'get', 'get_all', 'update',
                      'delete', 'history'], 1 + CAST(hash(i) % 12 AS INTEGER)) AS op,
        sqrt(-2 * ln(greatest(random(), 1e-12))) * cos(2 * pi() * random()) AS z,
        CASE WHEN hash(i) % 12 < 5 AND i % 5 < 2 THEN
            list_element(['hit', 'hit', 'miss', 'bypass'], 1 + CAST(hash(i * 31) % 4 AS INTEGER)) END AS cache
    FROM range($n) AS r(i)
)
ORDER BY ts;
