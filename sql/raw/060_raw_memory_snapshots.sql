-- raw_memory_snapshots: the memories a Mem0 instance held when a snapshot was taken.
-- grain: (snapshot_id, memory_id). columns: snapshot_id, taken_at, source (oss | platform), memory_id,
-- user_id, agent_id, run_id, text_bytes (UTF-8 size), text_hash (sha256 of normalised text, for exact
-- duplicates), memory_text (only when snapshot text storage is enabled), created_at, updated_at,
-- categories, metadata_keys.
CREATE TABLE IF NOT EXISTS raw_memory_snapshots (
    snapshot_id    VARCHAR NOT NULL,
    taken_at       TIMESTAMP NOT NULL,
    source         VARCHAR NOT NULL,
    memory_id      VARCHAR NOT NULL,
    user_id        VARCHAR,
    agent_id       VARCHAR,
    run_id         VARCHAR,
    text_bytes     INTEGER,
    text_hash      VARCHAR,
    memory_text    VARCHAR,
    created_at     TIMESTAMP,
    updated_at     TIMESTAMP,
    categories     VARCHAR[],
    metadata_keys  VARCHAR[],
    PRIMARY KEY (snapshot_id, memory_id)
);
