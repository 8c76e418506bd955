-- metric_ingest_status: what each collector loaded and when, with its quarantined (rejected) records, for the
-- Data sources page.
-- grain: one row per source (oplog | history | snapshot | prometheus | ...) seen in raw_ingest_runs or
-- raw_quarantine.
-- columns:
--   source (VARCHAR)
--   runs (BIGINT collection runs), failed_runs (BIGINT runs with status 'error')
--   first_run_at, last_run_at (TIMESTAMP UTC start of the first / latest run)
--   last_status (VARCHAR ok | error | interrupted | running of the latest run), last_message (VARCHAR its message)
--   last_rows_loaded (BIGINT rows loaded by the latest run)
--   files_seen, rows_loaded, rows_duplicate, rows_quarantined (BIGINT summed over all runs)
--   quarantined_lines (BIGINT rows in raw_quarantine for the source), quarantine_files (BIGINT distinct files)
--   last_quarantined_at (TIMESTAMP UTC)
--   rows_in_table (BIGINT rows held now in the source's raw table: oplog, otel, platform → raw_op_events (by the
--   event_id prefix `otel:` / `platform:`), history → raw_memory_history, snapshot → raw_memory_snapshots; NULL for
--   other sources)
-- Cheap: small tables.
CREATE OR REPLACE VIEW metric_ingest_status AS
WITH runs AS (
    SELECT
        source,
        count(*) AS runs,
        count(*) FILTER (WHERE status = 'error') AS failed_runs,
        min(started_at) AS first_run_at,
        max(started_at) AS last_run_at,
        arg_max(status, started_at) AS last_status,
        arg_max(message, started_at) AS last_message,
        arg_max(rows_loaded, started_at) AS last_rows_loaded,
        CAST(sum(files_seen) AS BIGINT) AS files_seen,
        CAST(sum(rows_loaded) AS BIGINT) AS rows_loaded,
        CAST(sum(rows_duplicate) AS BIGINT) AS rows_duplicate,
        CAST(sum(rows_quarantined) AS BIGINT) AS rows_quarantined
    FROM raw_ingest_runs
    GROUP BY source
),
quarantine AS (
    SELECT
        source,
        count(*) AS quarantined_lines,
        count(DISTINCT source_file) AS quarantine_files,
        max(quarantined_at) AS last_quarantined_at
    FROM raw_quarantine
    GROUP BY source
),
held AS (
    -- op events mapped from OTel spans and Platform events carry their source in the event_id prefix
    SELECT 'oplog' AS source, (SELECT count(*) FROM raw_op_events
                               WHERE NOT (starts_with(event_id, 'otel:') OR starts_with(event_id, 'platform:')))
        AS rows_in_table
    UNION ALL SELECT 'otel', (SELECT count(*) FROM raw_op_events WHERE starts_with(event_id, 'otel:'))
    UNION ALL SELECT 'platform', (SELECT count(*) FROM raw_op_events WHERE starts_with(event_id, 'platform:'))
    UNION ALL SELECT 'history', (SELECT count(*) FROM raw_memory_history)
    UNION ALL SELECT 'snapshot', (SELECT count(*) FROM raw_memory_snapshots)
)
SELECT
    coalesce(r.source, q.source) AS source,
    coalesce(r.runs, 0) AS runs, coalesce(r.failed_runs, 0) AS failed_runs,
    r.first_run_at, r.last_run_at, r.last_status, r.last_message, r.last_rows_loaded,
    coalesce(r.files_seen, 0) AS files_seen, coalesce(r.rows_loaded, 0) AS rows_loaded,
    coalesce(r.rows_duplicate, 0) AS rows_duplicate, coalesce(r.rows_quarantined, 0) AS rows_quarantined,
    coalesce(q.quarantined_lines, 0) AS quarantined_lines, coalesce(q.quarantine_files, 0) AS quarantine_files,
    q.last_quarantined_at,
    h.rows_in_table
FROM runs AS r
FULL OUTER JOIN quarantine AS q ON q.source = r.source
LEFT JOIN held AS h ON h.source = coalesce(r.source, q.source);
