-- raw_prom_checkpoints: how far each Prometheus range query has been collected (moves only with
-- committed samples), so the next `memlens collect prometheus` starts where the last one ended.
-- grain: (source_url, query_name). columns: source_url (without credentials), query_name,
-- last_ts (UTC end of the last collected range, on the step grid), step_seconds, updated_at.
CREATE TABLE IF NOT EXISTS raw_prom_checkpoints (
    source_url    VARCHAR NOT NULL,
    query_name    VARCHAR NOT NULL,
    last_ts       TIMESTAMP NOT NULL,
    step_seconds  DOUBLE NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (source_url, query_name)
);
