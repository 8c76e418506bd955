-- raw_ingest_runs: one row per collection run, for the Data sources page.
-- grain: run_id. columns: run_id, source (oplog | history | snapshot | prometheus), target (path/URL,
-- never credentials), started_at, finished_at, files_seen, rows_loaded, rows_duplicate,
-- rows_quarantined, status (ok | error), message.
CREATE TABLE IF NOT EXISTS raw_ingest_runs (
    run_id            VARCHAR PRIMARY KEY,
    source            VARCHAR NOT NULL,
    target            VARCHAR,
    started_at        TIMESTAMP NOT NULL,
    finished_at       TIMESTAMP,
    files_seen        INTEGER,
    rows_loaded       BIGINT,
    rows_duplicate    BIGINT,
    rows_quarantined  BIGINT,
    status            VARCHAR,
    message           VARCHAR
);
