-- raw_loadtest_runs: one row per measured phase of `memlens loadtest | benchmark | compare` (loadtest/runs.py).
-- The run's operations are the raw_op_events rows whose tag = run_id.
-- grain: run_id. columns:
--   run_id (VARCHAR, also the op-log tag), group_id (VARCHAR, the invocation: one ramp, benchmark or comparison)
--   kind (VARCHAR loadtest | ramp | benchmark | compare), scenario_name, config_hash (sha256/16 of the scenario's
--   settings), variant (VARCHAR 'A' | 'B' in a comparison, else NULL), round (INTEGER 1-based, else NULL)
--   users (INTEGER concurrent simulated users), call_mode (VARCHAR thread | async), backend (offline | config |
--   platform), cache_enabled (BOOLEAN), top_k (INTEGER), rerank (BOOLEAN), seed (BIGINT)
--   duration_s (DOUBLE planned seconds, NULL for a fixed op count), ops_per_user (INTEGER, NULL for a duration)
--   started_at, finished_at (TIMESTAMP UTC of the measured phase), wall_s (DOUBLE measured seconds)
--   ops_issued, errors_issued (BIGINT, counted by the load generator, to check the log against)
--   scenario_json (VARCHAR, the validated scenario; scenarios hold no secrets), memlens_version (VARCHAR)
CREATE TABLE IF NOT EXISTS raw_loadtest_runs (
    run_id           VARCHAR PRIMARY KEY,
    group_id         VARCHAR NOT NULL,
    kind             VARCHAR NOT NULL,
    scenario_name    VARCHAR NOT NULL,
    config_hash      VARCHAR NOT NULL,
    variant          VARCHAR,
    round            INTEGER,
    users            INTEGER NOT NULL,
    call_mode        VARCHAR NOT NULL,
    backend          VARCHAR NOT NULL,
    cache_enabled    BOOLEAN NOT NULL,
    top_k            INTEGER,
    rerank           BOOLEAN,
    seed             BIGINT,
    duration_s       DOUBLE,
    ops_per_user     INTEGER,
    started_at       TIMESTAMP NOT NULL,
    finished_at      TIMESTAMP NOT NULL,
    wall_s           DOUBLE NOT NULL,
    ops_issued       BIGINT NOT NULL,
    errors_issued    BIGINT NOT NULL,
    scenario_json    VARCHAR,
    memlens_version  VARCHAR
);
