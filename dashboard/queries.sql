-- The dashboard's own queries: what frames the pages (load key, data span, filter choices) and the Data sources
-- listings. None of them is a figure: every figure a page shows comes from the metric layer (memlens/layer.py,
-- sql/layer). Each section starts with `-- name: <query>`; dashboard/data.py runs them by name with bound
-- parameters only.

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
-- The oldest and newest event (the time window's presets end at the newest), how many, how many are demo rows.
SELECT min(CAST(ts AS DATE)) AS first_day, max(CAST(ts AS DATE)) AS last_day, count(*) AS events,
       count(*) FILTER (WHERE coalesce(demo, false)) AS demo_events, min(ts) AS first_ts, max(ts) AS last_ts
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

-- name: snapshot_summary
SELECT snapshot_id, any_value(taken_at) AS taken_at, any_value(source) AS source, count(*) AS memories,
       sum(text_bytes) AS bytes, count(DISTINCT user_id) AS users, count(*) - count(DISTINCT text_hash) AS exact_duplicates
FROM raw_memory_snapshots
WHERE ($user IS NULL OR user_id = $user) AND ($agent IS NULL OR agent_id = $agent)
GROUP BY snapshot_id
ORDER BY taken_at;

-- name: filter_options_rollups
-- filter_options read from the rollups, the same rows (tests/test_dashboard_logic.py): every event is one call of
-- agg_op_hourly (service, agent, op) and one row of stg_op_costs, whose rollups count the users and the models.
-- Read instead of filter_options when the rollups are current (a grouped scan of every event: 0.4 s at 10M events).
SELECT kind, value, events FROM (
    SELECT 'service' AS kind, service AS value, CAST(sum(ops) AS BIGINT) AS events FROM agg_op_hourly GROUP BY service
    UNION ALL SELECT 'user', user_id, CAST(sum(ops) AS BIGINT) FROM agg_cost_user_daily WHERE user_id IS NOT NULL
        GROUP BY user_id
    UNION ALL SELECT 'agent', agent_id, CAST(sum(ops) AS BIGINT) FROM agg_op_hourly WHERE agent_id IS NOT NULL
        GROUP BY agent_id
    UNION ALL SELECT 'op', op, CAST(sum(ops) AS BIGINT) FROM agg_op_hourly GROUP BY op
    UNION ALL SELECT 'model', embedding_model, CAST(sum(ops) AS BIGINT) FROM agg_cost_daily
        WHERE embedding_model IS NOT NULL GROUP BY embedding_model
    UNION ALL SELECT 'model', llm_model, CAST(sum(ops) AS BIGINT) FROM agg_cost_daily WHERE llm_model IS NOT NULL
        GROUP BY llm_model
)
ORDER BY kind, events DESC, value;
