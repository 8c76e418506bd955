-- raw_op_events: one row per Mem0 operation (operation-log schema v1), loaded by collectors/oplog.py.
-- grain: event_id (unique). columns: the op-log fields (generated from memlens/schema.py FIELDS, same order), then
-- provenance: source_file, source_line (1-based line or parquet row), ingested_at (UTC).
CREATE TABLE IF NOT EXISTS raw_op_events (
    {{ op_event_columns }},
    source_file       VARCHAR NOT NULL,
    source_line       BIGINT NOT NULL,
    ingested_at       TIMESTAMP NOT NULL
);
