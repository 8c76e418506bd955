-- raw_memory_history: Mem0's own history store (SQLite `history` table) copied as-is.
-- grain: (source_db, history_id). columns: source_db, history_id, memory_id, event (ADD | UPDATE |
-- DELETE), old_memory_bytes, new_memory_bytes (UTF-8 sizes; texts are not copied), created_at,
-- updated_at, event_ts (= updated_at, else created_at: when the event happened), is_deleted,
-- actor_id, role, ingested_at.
CREATE TABLE IF NOT EXISTS raw_memory_history (
    source_db         VARCHAR NOT NULL,
    history_id        VARCHAR NOT NULL,
    memory_id         VARCHAR NOT NULL,
    event             VARCHAR NOT NULL,
    old_memory_bytes  INTEGER,
    new_memory_bytes  INTEGER,
    created_at        TIMESTAMP,
    updated_at        TIMESTAMP,
    event_ts          TIMESTAMP NOT NULL,
    is_deleted        BOOLEAN,
    actor_id          VARCHAR,
    role              VARCHAR,
    ingested_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (source_db, history_id)
);
