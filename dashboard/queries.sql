-- Dashboard queries. Each section starts with `-- name: <query>`; dashboard/data.py runs them by name only.
-- Every value is a bound parameter ($start, $end, $service, $user, $agent, $op, $model, ...); nothing is pasted.
-- Sidebar filters: a NULL parameter means "all". $start/$end are UTC timestamps, end exclusive.
-- The two TEMP macros are inlined by DuckDB, so the filters are pushed down into the table scans.

-- name: macros
CREATE OR REPLACE TEMP MACRO ml_events(p_start, p_end, p_service, p_user, p_agent, p_op, p_model) AS TABLE
SELECT * FROM stg_op_events
WHERE (p_start IS NULL OR ts >= p_start) AND (p_end IS NULL OR ts < p_end)
  AND (p_service IS NULL OR service = p_service)
  AND (p_user IS NULL OR user_id = p_user)
  AND (p_agent IS NULL OR agent_id = p_agent)
  AND (p_op IS NULL OR op = p_op)
  AND (p_model IS NULL OR embedding_model = p_model OR llm_model = p_model);
CREATE OR REPLACE TEMP MACRO ml_costs(p_start, p_end, p_service, p_user, p_agent, p_op, p_model) AS TABLE
SELECT * FROM stg_op_costs
WHERE (p_start IS NULL OR ts >= p_start) AND (p_end IS NULL OR ts < p_end)
  AND (p_service IS NULL OR service = p_service)
  AND (p_user IS NULL OR user_id = p_user)
  AND (p_agent IS NULL OR agent_id = p_agent)
  AND (p_op IS NULL OR op = p_op)
  AND (p_model IS NULL OR embedding_model = p_model OR llm_model = p_model);

-- name: load_key
-- What changes whenever anything is loaded: the cache key of every aggregate.
SELECT
    (SELECT count(*) FROM raw_op_events) AS events,
    (SELECT max(ingested_at) FROM raw_op_events) AS last_ingested,
    (SELECT count(*) FROM raw_ingest_runs) AS runs,
    (SELECT count(*) FROM raw_quarantine) AS quarantined,
    (SELECT count(*) FROM raw_memory_history) AS history,
    (SELECT count(*) FROM raw_memory_snapshots) AS snapshots;

-- name: data_span
SELECT min(CAST(ts AS DATE)) AS first_day, max(CAST(ts AS DATE)) AS last_day, count(*) AS events,
       count(*) FILTER (WHERE coalesce(demo, false)) AS demo_events
FROM raw_op_events;

-- name: filter_options
-- Distinct values for the sidebar choices, most used first (kind, value, events).
SELECT kind, value, events FROM (
    SELECT 'service' AS kind, service AS value, count(*) AS events FROM raw_op_events GROUP BY service
    UNION ALL SELECT 'user', user_id, count(*) FROM raw_op_events WHERE user_id IS NOT NULL GROUP BY user_id
    UNION ALL SELECT 'agent', agent_id, count(*) FROM raw_op_events WHERE agent_id IS NOT NULL GROUP BY agent_id
    UNION ALL SELECT 'op', op, count(*) FROM raw_op_events GROUP BY op
    UNION ALL SELECT 'model', embedding_model, count(*) FROM raw_op_events
        WHERE embedding_model IS NOT NULL GROUP BY embedding_model
    UNION ALL SELECT 'model', llm_model, count(*) FROM raw_op_events WHERE llm_model IS NOT NULL GROUP BY llm_model
)
ORDER BY kind, events DESC, value;

-- name: summary
-- One row: latency, errors, slowness and cache over the filtered events.
SELECT
    count(*) AS ops,
    count(*) FILTER (WHERE is_error) AS errors,
    count(*) FILTER (WHERE is_error) / nullif(count(*), 0) AS error_rate,
    count(*) FILTER (WHERE is_demo) AS demo_events,
    count(*) FILTER (WHERE op = 'search') AS searches,
    avg(latency_ms) AS avg_ms,
    quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS q,
    max(latency_ms) AS max_ms,
    -- "Query latency" of the reference = search calls
    avg(latency_ms) FILTER (WHERE op = 'search') AS search_avg_ms,
    quantile_cont(latency_ms, [0.5, 0.95, 0.99]) FILTER (WHERE op = 'search') AS search_q,
    count(*) FILTER (WHERE is_slow) AS slow_ops,
    count(*) FILTER (WHERE is_slow) / nullif(count(*), 0) AS slow_share,
    min(ts) AS first_ts,
    max(ts) AS last_ts,
    count(*) FILTER (WHERE cache = 'hit') AS cache_hits,
    count(*) FILTER (WHERE cache = 'miss') AS cache_misses,
    count(*) FILTER (WHERE cache = 'bypass') AS cache_bypasses,
    avg(latency_ms) FILTER (WHERE cache = 'hit') AS avg_hit_ms,
    avg(latency_ms) FILTER (WHERE cache = 'miss') AS avg_miss_ms,
    -- query shape of searches: evidence for the diagnosis
    avg(effective_limit) FILTER (WHERE op = 'search') AS search_avg_top_k,
    count(*) FILTER (WHERE op = 'search' AND is_unscoped) / nullif(count(*) FILTER (WHERE op = 'search'), 0)
        AS search_unscoped_share,
    count(*) FILTER (WHERE op = 'search' AND rerank_requested) / nullif(count(*) FILTER (WHERE op = 'search'), 0)
        AS search_rerank_share,
    avg(message_count) FILTER (WHERE op = 'add') AS add_avg_messages,
    count(*) FILTER (WHERE op = 'add' AND message_count <= 1) / nullif(count(*) FILTER (WHERE op = 'add'), 0)
        AS add_single_message_share
FROM ml_events($start, $end, $service, $user, $agent, $op, $model);

-- name: repeat_queries
-- Share of searches whose normalised query was already seen (what a cache could serve at best).
SELECT sum(n) AS searches, sum(n - 1) AS repeats, sum(n - 1) / nullif(sum(n), 0) AS repeat_share
FROM (
    SELECT count(*) AS n FROM ml_events($start, $end, $service, $user, $agent, $op, $model)
    WHERE op = 'search' AND query_hash IS NOT NULL GROUP BY query_hash
);

-- name: cost_summary
-- One row per mode: cost over the filtered events.
SELECT
    mode,
    count(*) AS ops,
    count(*) FILTER (WHERE is_search) AS searches,
    sum(embedding_cost_usd) AS embedding_cost_usd,
    sum(llm_cost_usd) AS llm_cost_usd,
    sum(platform_cost_usd) AS platform_cost_usd,
    sum(total_cost_usd) AS total_cost_usd,
    sum(total_cost_usd) * 1000.0 / nullif(count(*) FILTER (WHERE is_search), 0) AS cost_per_1k_searches_usd,
    CAST(sum(unpriced_tokens) AS BIGINT) AS unpriced_tokens,
    CAST(sum(unpriced_calls) AS BIGINT) AS unpriced_calls,
    count(*) FILTER (WHERE tokens_estimated) AS estimated_token_events
FROM ml_costs($start, $end, $service, $user, $agent, $op, $model)
GROUP BY mode
ORDER BY mode;

-- name: latency_over_time
-- Per time bucket ($bucket, an INTERVAL) and op, plus op = 'all'.
SELECT
    bucket, op, ops, errors, avg_ms, q[1] AS p50_ms, q[2] AS p95_ms, q[3] AS p99_ms,
    ops / epoch(CAST($bucket AS INTERVAL)) AS ops_per_s
FROM (
    SELECT
        time_bucket(CAST($bucket AS INTERVAL), ts) AS bucket,
        coalesce(op, 'all') AS op,
        count(*) AS ops,
        count(*) FILTER (WHERE is_error) AS errors,
        avg(latency_ms) AS avg_ms,
        quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS q
    FROM ml_events($start, $end, $service, $user, $agent, $op, $model)
    GROUP BY GROUPING SETS ((bucket, op), (bucket))
)
ORDER BY bucket, op;

-- name: latency_by_op
SELECT
    coalesce(op, 'all') AS op, count(*) AS ops, count(*) FILTER (WHERE is_error) AS errors,
    avg(latency_ms) AS avg_ms, quantile_cont(latency_ms, 0.5) AS p50_ms, quantile_cont(latency_ms, 0.95) AS p95_ms,
    quantile_cont(latency_ms, 0.99) AS p99_ms, count(*) FILTER (WHERE is_slow) / count(*) AS slow_share
FROM ml_events($start, $end, $service, $user, $agent, $op, $model)
GROUP BY GROUPING SETS ((op), ())
ORDER BY op = 'all' DESC, ops DESC;

-- name: latency_histogram
-- Latency distribution on a log scale: 10 bins per decade (bin_ms = lower edge in milliseconds).
SELECT power(10, floor(log10(greatest(latency_ms, 0.01)) * 10) / 10) AS bin_ms, op, count(*) AS ops
FROM ml_events($start, $end, $service, $user, $agent, $op, $model)
GROUP BY ALL
ORDER BY bin_ms, op;

-- name: slow_ops
-- The slowest operations over the threshold, with their query shape ($limit rows).
SELECT
    ts, op, latency_ms, status, service, user_id, agent_id, effective_limit AS top_k, "limit" AS limit_passed,
    scope, array_to_string(filter_keys, ', ') AS filter_keys, rerank_requested AS rerank, result_count, cache,
    embedding_model, llm_model, query_hash, event_id
FROM ml_events($start, $end, $service, $user, $agent, $op, $model)
WHERE is_slow
ORDER BY latency_ms DESC
LIMIT $limit;

-- name: shape_impact
-- Search latency by query shape: dimension (top_k | scope | rerank), value, calls, latency.
SELECT dimension, value, ops, avg_ms, q[1] AS p50_ms, q[2] AS p95_ms, slow_share FROM (
    SELECT
        CASE WHEN GROUPING(effective_limit) = 0 THEN 'top_k' WHEN GROUPING(scope) = 0 THEN 'scope'
             ELSE 'rerank' END AS dimension,
        coalesce(CAST(effective_limit AS VARCHAR), scope, CAST(rerank_requested AS VARCHAR), 'not recorded') AS value,
        count(*) AS ops, avg(latency_ms) AS avg_ms, quantile_cont(latency_ms, [0.5, 0.95]) AS q,
        count(*) FILTER (WHERE is_slow) / count(*) AS slow_share
    FROM ml_events($start, $end, $service, $user, $agent, $op, $model)
    WHERE op = 'search'
    GROUP BY GROUPING SETS ((effective_limit), (scope), (rerank_requested))
)
ORDER BY dimension, ops DESC;

-- name: cache_over_time
SELECT
    CAST(ts AS DATE) AS day,
    count(*) FILTER (WHERE cache = 'hit') AS hits,
    count(*) FILTER (WHERE cache = 'miss') AS misses,
    count(*) FILTER (WHERE cache = 'bypass') AS bypasses,
    count(*) FILTER (WHERE cache = 'hit') / nullif(count(*) FILTER (WHERE cache IN ('hit', 'miss')), 0) AS hit_rate,
    avg(latency_ms) FILTER (WHERE cache = 'hit') AS avg_hit_ms,
    avg(latency_ms) FILTER (WHERE cache = 'miss') AS avg_miss_ms
FROM ml_events($start, $end, $service, $user, $agent, $op, $model)
WHERE cache IS NOT NULL
GROUP BY ALL
ORDER BY day;

-- name: cache_by_user
SELECT
    coalesce(user_id, '(no user)') AS user_id,
    count(*) FILTER (WHERE cache = 'hit') AS hits,
    count(*) FILTER (WHERE cache = 'miss') AS misses,
    count(*) FILTER (WHERE cache = 'hit') / nullif(count(*) FILTER (WHERE cache IN ('hit', 'miss')), 0) AS hit_rate,
    avg(latency_ms) FILTER (WHERE cache = 'miss') / nullif(avg(latency_ms) FILTER (WHERE cache = 'hit'), 0)
        AS miss_penalty
FROM ml_events($start, $end, $service, $user, $agent, $op, $model)
WHERE cache IS NOT NULL
GROUP BY user_id
ORDER BY hits + misses DESC
LIMIT $limit;

-- name: cache_by_query
-- Query patterns (normalised-query hash) most requested, with their hit rate.
SELECT
    query_hash,
    count(*) AS requests,
    count(DISTINCT user_id) AS users,
    count(*) FILTER (WHERE cache = 'hit') AS hits,
    count(*) FILTER (WHERE cache = 'miss') AS misses,
    count(*) FILTER (WHERE cache = 'hit') / nullif(count(*) FILTER (WHERE cache IN ('hit', 'miss')), 0) AS hit_rate
FROM ml_events($start, $end, $service, $user, $agent, $op, $model)
WHERE cache IS NOT NULL AND query_hash IS NOT NULL
GROUP BY query_hash
ORDER BY requests DESC
LIMIT $limit;

-- name: cost_daily
SELECT
    day, count(*) AS ops, count(*) FILTER (WHERE is_search) AS searches,
    sum(embedding_cost_usd) AS embedding_cost_usd, sum(llm_cost_usd) AS llm_cost_usd,
    sum(platform_cost_usd) AS platform_cost_usd, sum(total_cost_usd) AS total_cost_usd
FROM ml_costs($start, $end, $service, $user, $agent, $op, $model)
GROUP BY day
ORDER BY day;

-- name: cost_daily_by_op
-- Daily cost per op: the input of the weekly review and the month-to-date projection.
SELECT
    day, op, count(*) AS ops, count(*) FILTER (WHERE is_search) AS searches,
    sum(embedding_cost_usd) AS embedding_cost_usd, sum(llm_cost_usd) AS llm_cost_usd,
    sum(platform_cost_usd) AS platform_cost_usd, sum(total_cost_usd) AS total_cost_usd
FROM ml_costs($start, $end, $service, $user, $agent, $op, $model)
GROUP BY day, op
ORDER BY day, op;

-- name: cost_by_op
SELECT op AS key, count(*) AS ops, sum(total_cost_usd) AS total_cost_usd, sum(embedding_cost_usd) AS embedding_cost_usd,
       sum(llm_cost_usd) AS llm_cost_usd, sum(platform_cost_usd) AS platform_cost_usd
FROM ml_costs($start, $end, $service, $user, $agent, $op, $model)
GROUP BY op ORDER BY total_cost_usd DESC, ops DESC LIMIT $limit;

-- name: cost_by_user
SELECT coalesce(user_id, '(no user)') AS key, count(*) AS ops, sum(total_cost_usd) AS total_cost_usd,
       sum(embedding_cost_usd) AS embedding_cost_usd, sum(llm_cost_usd) AS llm_cost_usd,
       sum(platform_cost_usd) AS platform_cost_usd
FROM ml_costs($start, $end, $service, $user, $agent, $op, $model)
GROUP BY user_id ORDER BY total_cost_usd DESC, ops DESC LIMIT $limit;

-- name: cost_by_agent
SELECT coalesce(agent_id, '(no agent)') AS key, count(*) AS ops, sum(total_cost_usd) AS total_cost_usd,
       sum(embedding_cost_usd) AS embedding_cost_usd, sum(llm_cost_usd) AS llm_cost_usd,
       sum(platform_cost_usd) AS platform_cost_usd
FROM ml_costs($start, $end, $service, $user, $agent, $op, $model)
GROUP BY agent_id ORDER BY total_cost_usd DESC, ops DESC LIMIT $limit;

-- name: cost_by_model
SELECT kind || ': ' || coalesce(model, '(unnamed)') AS key, events AS ops, cost_usd AS total_cost_usd FROM (
    SELECT 'embedding' AS kind, embedding_model AS model, count(*) AS events, sum(embedding_cost_usd) AS cost_usd
    FROM ml_costs($start, $end, $service, $user, $agent, $op, $model)
    WHERE mode = 'oss' AND embedding_tokens > 0 GROUP BY embedding_model
    UNION ALL
    SELECT 'llm', llm_model, count(*), sum(llm_cost_usd)
    FROM ml_costs($start, $end, $service, $user, $agent, $op, $model)
    WHERE mode = 'oss' AND llm_input_tokens + llm_output_tokens > 0 GROUP BY llm_model
    UNION ALL
    SELECT 'platform', op, count(*), sum(platform_cost_usd)
    FROM ml_costs($start, $end, $service, $user, $agent, $op, $model)
    WHERE mode = 'platform' GROUP BY op
)
ORDER BY total_cost_usd DESC, ops DESC LIMIT $limit;

-- name: memory_growth_daily
-- Net memories and bytes per day from Mem0's history (filters: time range, user, agent), with running totals
-- from the first recorded event (events before $start still count toward the totals).
SELECT day, memories_delta, bytes_delta, memories, bytes FROM (
    SELECT day, sum(memories_delta) AS memories_delta, sum(bytes_delta) AS bytes_delta,
           sum(sum(memories_delta)) OVER (ORDER BY day) AS memories,
           sum(sum(bytes_delta)) OVER (ORDER BY day) AS bytes
    FROM stg_memory_events
    WHERE ($end IS NULL OR event_ts < $end) AND ($user IS NULL OR user_id = $user)
      AND ($agent IS NULL OR agent_id = $agent)
    GROUP BY day
)
WHERE $start IS NULL OR day >= CAST($start AS DATE)
ORDER BY day;

-- name: memory_by_owner
-- Current memories and bytes per owner (user or agent) from the history, largest first.
SELECT coalesce(user_id, agent_id, '(unattributed)') AS owner, sum(memories_delta) AS memories,
       sum(bytes_delta) AS bytes, count(*) FILTER (WHERE event = 'ADD') AS adds,
       count(*) FILTER (WHERE event = 'UPDATE') AS updates, count(*) FILTER (WHERE event = 'DELETE') AS deletes
FROM stg_memory_events
WHERE ($end IS NULL OR event_ts < $end) AND ($user IS NULL OR user_id = $user) AND ($agent IS NULL OR agent_id = $agent)
GROUP BY ALL
ORDER BY memories DESC
LIMIT $limit;

-- name: snapshot_summary
SELECT snapshot_id, any_value(taken_at) AS taken_at, any_value(source) AS source, count(*) AS memories,
       sum(text_bytes) AS bytes, count(DISTINCT user_id) AS users, count(*) - count(DISTINCT text_hash) AS exact_duplicates
FROM raw_memory_snapshots
WHERE ($user IS NULL OR user_id = $user) AND ($agent IS NULL OR agent_id = $agent)
GROUP BY snapshot_id
ORDER BY taken_at;

-- name: table_counts
SELECT 'raw_op_events' AS "table", count(*) AS "rows" FROM raw_op_events
UNION ALL SELECT 'raw_memory_history', count(*) FROM raw_memory_history
UNION ALL SELECT 'raw_memory_snapshots', count(*) FROM raw_memory_snapshots
UNION ALL SELECT 'raw_quarantine', count(*) FROM raw_quarantine
UNION ALL SELECT 'raw_ingest_runs', count(*) FROM raw_ingest_runs;

-- name: ingest_runs
SELECT started_at, finished_at, source, target, status, files_seen, rows_loaded, rows_duplicate, rows_quarantined,
       message, run_id
FROM raw_ingest_runs
ORDER BY started_at DESC
LIMIT $limit;

-- name: source_status
-- One row per collector that has run: last collection, its status, counts, quarantine, rows held.
SELECT source, last_run_at, last_status, last_rows_loaded, runs, rows_loaded, rows_duplicate, quarantined_lines,
       rows_in_table, last_message
FROM metric_ingest_status
ORDER BY last_run_at DESC NULLS LAST;

-- name: otel_span_counts
-- What `memlens collect otel` did with the spans it read, per mapping and disposition; unknown spans first.
SELECT disposition, convention, span_name, CAST(sum(spans) AS BIGINT) AS spans, count(DISTINCT source_file) AS files,
       max(last_seen_at) AS last_seen
FROM raw_otel_span_counts
GROUP BY disposition, convention, span_name
ORDER BY list_position(['unknown', 'op', 'phase', 'child', 'ignored', 'late'], disposition), spans DESC, span_name;

-- name: platform_stats
-- The latest `GET /v1/stats/` snapshots of the Mem0 Platform.
SELECT taken_at, source_url, total_memories, total_add_events, total_retrieval_events, total_api_retrieval_events,
       total_retrieval_events_limit, total_users_with_memories, total_agents_with_memories, total_runs_with_memories
FROM raw_platform_stats
ORDER BY taken_at DESC
LIMIT 10;

-- name: quarantine_reasons
SELECT source, reason, count(*) AS "lines", count(DISTINCT source_file) AS files, max(quarantined_at) AS last_seen
FROM raw_quarantine
GROUP BY ALL
ORDER BY "lines" DESC;

-- name: quarantine_rows
SELECT quarantined_at, source, source_file, source_line, reason, excerpt
FROM raw_quarantine
ORDER BY quarantined_at DESC, source_file, source_line
LIMIT $limit;

-- ---- fast variants ------------------------------------------------------------------------------------------
-- `<query>@fast` answers the same question from a small table: the rollups of memlens/rollups.py (sql/rollups,
-- refreshed by every collection) or Mem0's history without attribution. dashboard/data.py runs a variant only
-- when every active sidebar filter is in its `-- dims:` line and, for `-- rollups: yes`, the rollups are
-- current; otherwise the exact query above runs. Counts, sums, costs and averages are exact either way;
-- percentiles are filled in afterwards (exact, or from the rollup histograms on large warehouses).

-- name: data_span@fast
-- dims: service user agent op model
-- rollups: yes
SELECT min(day) AS first_day, max(day) AS last_day, CAST(coalesce(sum(ops), 0) AS BIGINT) AS events,
       CAST(coalesce(sum(ops) FILTER (WHERE is_demo), 0) AS BIGINT) AS demo_events
FROM agg_op_hourly;

-- name: filter_options@fast
-- dims: service user agent op model
-- rollups: yes
SELECT kind, value, events FROM (
    SELECT 'service' AS kind, service AS value, sum(ops) AS events FROM agg_op_hourly GROUP BY service
    UNION ALL SELECT 'user', user_id, sum(ops) FROM agg_cost_user_daily WHERE user_id IS NOT NULL GROUP BY user_id
    UNION ALL SELECT 'agent', agent_id, sum(ops) FROM agg_op_hourly WHERE agent_id IS NOT NULL GROUP BY agent_id
    UNION ALL SELECT 'op', op, sum(ops) FROM agg_op_hourly GROUP BY op
    UNION ALL SELECT 'model', embedding_model, sum(ops) FROM agg_cost_daily
        WHERE embedding_model IS NOT NULL GROUP BY embedding_model
    UNION ALL SELECT 'model', llm_model, sum(ops) FROM agg_cost_daily WHERE llm_model IS NOT NULL GROUP BY llm_model
)
ORDER BY kind, events DESC, value;

-- name: summary@fast
-- dims: service op agent
-- rollups: yes
SELECT
    CAST(sum(ops) AS BIGINT) AS ops,
    CAST(sum(errors) AS BIGINT) AS errors,
    sum(errors) / nullif(sum(ops), 0) AS error_rate,
    CAST(coalesce(sum(ops) FILTER (WHERE is_demo), 0) AS BIGINT) AS demo_events,
    CAST(sum(searches) AS BIGINT) AS searches,
    sum(sum_ms) / nullif(sum(ops), 0) AS avg_ms,
    max(max_ms) AS max_ms,
    sum(sum_ms) FILTER (WHERE op = 'search') / nullif(sum(searches), 0) AS search_avg_ms,
    CAST(sum(slow_ops) AS BIGINT) AS slow_ops,
    sum(slow_ops) / nullif(sum(ops), 0) AS slow_share,
    min(hour) AS first_ts,
    max(hour) + INTERVAL 1 HOUR AS last_ts,
    CAST(sum(hits) AS BIGINT) AS cache_hits,
    CAST(sum(misses) AS BIGINT) AS cache_misses,
    CAST(sum(bypasses) AS BIGINT) AS cache_bypasses,
    sum(hit_sum_ms) / nullif(sum(hits), 0) AS avg_hit_ms,
    sum(miss_sum_ms) / nullif(sum(misses), 0) AS avg_miss_ms,
    CAST(NULL AS DOUBLE) AS search_avg_top_k,  -- not in the rollups
    sum(unscoped) FILTER (WHERE op = 'search') / nullif(sum(searches), 0) AS search_unscoped_share,
    sum(reranked) / nullif(sum(searches), 0) AS search_rerank_share,
    CAST(NULL AS DOUBLE) AS add_avg_messages,
    CAST(NULL AS DOUBLE) AS add_single_message_share
FROM agg_op_hourly
WHERE ($start IS NULL OR hour >= $start) AND ($end IS NULL OR hour < $end)
  AND ($service IS NULL OR service = $service) AND ($op IS NULL OR op = $op) AND ($agent IS NULL OR agent_id = $agent);

-- name: latency_by_op@fast
-- dims: service op agent
-- rollups: yes
SELECT
    coalesce(op, 'all') AS op, CAST(sum(ops) AS BIGINT) AS ops, CAST(sum(errors) AS BIGINT) AS errors,
    sum(sum_ms) / sum(ops) AS avg_ms, CAST(NULL AS DOUBLE) AS p50_ms, CAST(NULL AS DOUBLE) AS p95_ms,
    CAST(NULL AS DOUBLE) AS p99_ms, sum(slow_ops) / sum(ops) AS slow_share
FROM agg_op_hourly
WHERE ($start IS NULL OR hour >= $start) AND ($end IS NULL OR hour < $end)
  AND ($service IS NULL OR service = $service) AND ($op IS NULL OR op = $op) AND ($agent IS NULL OR agent_id = $agent)
GROUP BY GROUPING SETS ((op), ())
ORDER BY op = 'all' DESC, ops DESC;

-- name: latency_over_time@fast
-- dims: service op agent
-- rollups: yes
-- Daily buckets only (data.py uses it for a bucket of '1 day').
SELECT
    CAST(day AS TIMESTAMP) AS bucket, coalesce(op, 'all') AS op, CAST(sum(ops) AS BIGINT) AS ops,
    CAST(sum(errors) AS BIGINT) AS errors, sum(sum_ms) / sum(ops) AS avg_ms,
    CAST(NULL AS DOUBLE) AS p50_ms, CAST(NULL AS DOUBLE) AS p95_ms, CAST(NULL AS DOUBLE) AS p99_ms,
    sum(ops) / 86400.0 AS ops_per_s
FROM agg_op_hourly
WHERE ($start IS NULL OR hour >= $start) AND ($end IS NULL OR hour < $end)
  AND ($service IS NULL OR service = $service) AND ($op IS NULL OR op = $op) AND ($agent IS NULL OR agent_id = $agent)
GROUP BY GROUPING SETS ((day, op), (day))
ORDER BY bucket, op;

-- name: latency_histogram@fast
-- dims: service op
-- rollups: yes
-- The rollup's 50 log buckets per decade folded into the exact query's 10 per decade (same edges).
SELECT power(10, floor(bucket / 5) / 10) AS bin_ms, op, CAST(sum(n) AS BIGINT) AS ops
FROM agg_latency_hist_daily
WHERE ($start IS NULL OR day >= CAST($start AS DATE)) AND ($end IS NULL OR day < CAST($end AS DATE))
  AND ($service IS NULL OR service = $service) AND ($op IS NULL OR op = $op)
GROUP BY ALL
ORDER BY bin_ms, op;

-- name: cache_over_time@fast
-- dims: service op agent
-- rollups: yes
SELECT
    day, CAST(sum(hits) AS BIGINT) AS hits, CAST(sum(misses) AS BIGINT) AS misses,
    CAST(sum(bypasses) AS BIGINT) AS bypasses, sum(hits) / nullif(sum(hits) + sum(misses), 0) AS hit_rate,
    sum(hit_sum_ms) / nullif(sum(hits), 0) AS avg_hit_ms, sum(miss_sum_ms) / nullif(sum(misses), 0) AS avg_miss_ms
FROM agg_op_hourly
WHERE cache_requests > 0
  AND ($start IS NULL OR hour >= $start) AND ($end IS NULL OR hour < $end)
  AND ($service IS NULL OR service = $service) AND ($op IS NULL OR op = $op) AND ($agent IS NULL OR agent_id = $agent)
GROUP BY day
ORDER BY day;

-- name: cost_summary@fast
-- dims: service op agent model
-- rollups: yes
SELECT
    mode, CAST(sum(ops) AS BIGINT) AS ops, CAST(sum(searches) AS BIGINT) AS searches,
    sum(embedding_cost_usd) AS embedding_cost_usd, sum(llm_cost_usd) AS llm_cost_usd,
    sum(platform_cost_usd) AS platform_cost_usd, sum(total_cost_usd) AS total_cost_usd,
    sum(total_cost_usd) * 1000.0 / nullif(sum(searches), 0) AS cost_per_1k_searches_usd,
    CAST(sum(unpriced_tokens) AS BIGINT) AS unpriced_tokens, CAST(sum(unpriced_calls) AS BIGINT) AS unpriced_calls,
    CAST(sum(estimated_token_events) AS BIGINT) AS estimated_token_events
FROM agg_cost_daily
WHERE ($start IS NULL OR day >= CAST($start AS DATE)) AND ($end IS NULL OR day < CAST($end AS DATE))
  AND ($service IS NULL OR service = $service) AND ($op IS NULL OR op = $op) AND ($agent IS NULL OR agent_id = $agent)
  AND ($model IS NULL OR embedding_model = $model OR llm_model = $model)
GROUP BY mode
ORDER BY mode;

-- name: cost_daily@fast
-- dims: service op agent model
-- rollups: yes
SELECT
    day, CAST(sum(ops) AS BIGINT) AS ops, CAST(sum(searches) AS BIGINT) AS searches,
    sum(embedding_cost_usd) AS embedding_cost_usd, sum(llm_cost_usd) AS llm_cost_usd,
    sum(platform_cost_usd) AS platform_cost_usd, sum(total_cost_usd) AS total_cost_usd
FROM agg_cost_daily
WHERE ($start IS NULL OR day >= CAST($start AS DATE)) AND ($end IS NULL OR day < CAST($end AS DATE))
  AND ($service IS NULL OR service = $service) AND ($op IS NULL OR op = $op) AND ($agent IS NULL OR agent_id = $agent)
  AND ($model IS NULL OR embedding_model = $model OR llm_model = $model)
GROUP BY day
ORDER BY day;

-- name: cost_daily_by_op@fast
-- dims: service op agent model
-- rollups: yes
SELECT
    day, op, CAST(sum(ops) AS BIGINT) AS ops, CAST(sum(searches) AS BIGINT) AS searches,
    sum(embedding_cost_usd) AS embedding_cost_usd, sum(llm_cost_usd) AS llm_cost_usd,
    sum(platform_cost_usd) AS platform_cost_usd, sum(total_cost_usd) AS total_cost_usd
FROM agg_cost_daily
WHERE ($start IS NULL OR day >= CAST($start AS DATE)) AND ($end IS NULL OR day < CAST($end AS DATE))
  AND ($service IS NULL OR service = $service) AND ($op IS NULL OR op = $op) AND ($agent IS NULL OR agent_id = $agent)
  AND ($model IS NULL OR embedding_model = $model OR llm_model = $model)
GROUP BY day, op
ORDER BY day, op;

-- name: cost_by_op@fast
-- dims: service op agent model
-- rollups: yes
SELECT op AS key, CAST(sum(ops) AS BIGINT) AS ops, sum(total_cost_usd) AS total_cost_usd,
       sum(embedding_cost_usd) AS embedding_cost_usd, sum(llm_cost_usd) AS llm_cost_usd,
       sum(platform_cost_usd) AS platform_cost_usd
FROM agg_cost_daily
WHERE ($start IS NULL OR day >= CAST($start AS DATE)) AND ($end IS NULL OR day < CAST($end AS DATE))
  AND ($service IS NULL OR service = $service) AND ($op IS NULL OR op = $op) AND ($agent IS NULL OR agent_id = $agent)
  AND ($model IS NULL OR embedding_model = $model OR llm_model = $model)
GROUP BY op ORDER BY total_cost_usd DESC, ops DESC LIMIT $limit;

-- name: cost_by_agent@fast
-- dims: service op agent model
-- rollups: yes
SELECT coalesce(agent_id, '(no agent)') AS key, CAST(sum(ops) AS BIGINT) AS ops, sum(total_cost_usd) AS total_cost_usd,
       sum(embedding_cost_usd) AS embedding_cost_usd, sum(llm_cost_usd) AS llm_cost_usd,
       sum(platform_cost_usd) AS platform_cost_usd
FROM agg_cost_daily
WHERE ($start IS NULL OR day >= CAST($start AS DATE)) AND ($end IS NULL OR day < CAST($end AS DATE))
  AND ($service IS NULL OR service = $service) AND ($op IS NULL OR op = $op) AND ($agent IS NULL OR agent_id = $agent)
  AND ($model IS NULL OR embedding_model = $model OR llm_model = $model)
GROUP BY agent_id ORDER BY total_cost_usd DESC, ops DESC LIMIT $limit;

-- name: cost_by_model@fast
-- dims: service op agent model
-- rollups: yes
SELECT kind || ': ' || coalesce(model, '(unnamed)') AS key, CAST(ops AS BIGINT) AS ops, total_cost_usd FROM (
    SELECT 'embedding' AS kind, embedding_model AS model, sum(ops) AS ops, sum(embedding_cost_usd) AS total_cost_usd
    FROM agg_cost_daily
    WHERE mode = 'oss' AND embedding_tokens > 0
      AND ($start IS NULL OR day >= CAST($start AS DATE)) AND ($end IS NULL OR day < CAST($end AS DATE))
      AND ($service IS NULL OR service = $service) AND ($op IS NULL OR op = $op)
      AND ($agent IS NULL OR agent_id = $agent) AND ($model IS NULL OR embedding_model = $model OR llm_model = $model)
    GROUP BY embedding_model
    UNION ALL
    SELECT 'llm', llm_model, sum(ops), sum(llm_cost_usd)
    FROM agg_cost_daily
    WHERE mode = 'oss' AND llm_input_tokens + llm_output_tokens > 0
      AND ($start IS NULL OR day >= CAST($start AS DATE)) AND ($end IS NULL OR day < CAST($end AS DATE))
      AND ($service IS NULL OR service = $service) AND ($op IS NULL OR op = $op)
      AND ($agent IS NULL OR agent_id = $agent) AND ($model IS NULL OR embedding_model = $model OR llm_model = $model)
    GROUP BY llm_model
    UNION ALL
    SELECT 'platform', op, sum(ops), sum(platform_cost_usd)
    FROM agg_cost_daily
    WHERE mode = 'platform'
      AND ($start IS NULL OR day >= CAST($start AS DATE)) AND ($end IS NULL OR day < CAST($end AS DATE))
      AND ($service IS NULL OR service = $service) AND ($op IS NULL OR op = $op)
      AND ($agent IS NULL OR agent_id = $agent) AND ($model IS NULL OR embedding_model = $model OR llm_model = $model)
    GROUP BY op
)
ORDER BY total_cost_usd DESC, ops DESC LIMIT $limit;

-- name: cost_by_user@fast
-- dims: user
-- rollups: yes
SELECT coalesce(user_id, '(no user)') AS key, CAST(sum(ops) AS BIGINT) AS ops, sum(total_cost_usd) AS total_cost_usd,
       sum(embedding_cost_usd) AS embedding_cost_usd, sum(llm_cost_usd) AS llm_cost_usd,
       sum(platform_cost_usd) AS platform_cost_usd
FROM agg_cost_user_daily
WHERE ($start IS NULL OR day >= CAST($start AS DATE)) AND ($end IS NULL OR day < CAST($end AS DATE))
  AND ($user IS NULL OR user_id = $user)
GROUP BY user_id ORDER BY total_cost_usd DESC, ops DESC LIMIT $limit;

-- name: memory_growth_daily@fast
-- dims: service op model
-- rollups: no
-- Without a user/agent filter no attribution is needed: Mem0's history alone.
SELECT day, memories_delta, bytes_delta, memories, bytes FROM (
    SELECT CAST(event_ts AS DATE) AS day,
           sum(CASE event WHEN 'ADD' THEN 1 WHEN 'DELETE' THEN -1 ELSE 0 END) AS memories_delta,
           sum(CASE event WHEN 'ADD' THEN coalesce(new_memory_bytes, 0)
                          WHEN 'UPDATE' THEN coalesce(new_memory_bytes, 0) - coalesce(old_memory_bytes, 0)
                          WHEN 'DELETE' THEN -coalesce(old_memory_bytes, 0) ELSE 0 END) AS bytes_delta,
           sum(sum(CASE event WHEN 'ADD' THEN 1 WHEN 'DELETE' THEN -1 ELSE 0 END)) OVER (ORDER BY CAST(event_ts AS DATE))
               AS memories,
           sum(sum(CASE event WHEN 'ADD' THEN coalesce(new_memory_bytes, 0)
                              WHEN 'UPDATE' THEN coalesce(new_memory_bytes, 0) - coalesce(old_memory_bytes, 0)
                              WHEN 'DELETE' THEN -coalesce(old_memory_bytes, 0) ELSE 0 END))
               OVER (ORDER BY CAST(event_ts AS DATE)) AS bytes
    FROM raw_memory_history
    WHERE $end IS NULL OR event_ts < $end
    GROUP BY 1
)
WHERE $start IS NULL OR day >= CAST($start AS DATE)
ORDER BY day;

-- name: pct_summary
-- Exact percentiles for summary@fast: every call, and search calls.
SELECT quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS q,
       quantile_cont(latency_ms, [0.5, 0.95, 0.99]) FILTER (WHERE op = 'search') AS search_q
FROM ml_events($start, $end, $service, $user, $agent, $op, $model);

-- name: pct_by_op
SELECT coalesce(op, 'all') AS op, quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS q
FROM ml_events($start, $end, $service, $user, $agent, $op, $model)
GROUP BY GROUPING SETS ((op), ());

-- name: pct_by_day
SELECT CAST(day AS TIMESTAMP) AS bucket, coalesce(op, 'all') AS op, quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS q
FROM ml_events($start, $end, $service, $user, $agent, $op, $model)
GROUP BY GROUPING SETS ((day, op), (day));
