-- raw_platform_stats: snapshots of the Mem0 Platform's `GET /v1/stats/` taken by `memlens collect platform`.
-- grain: (source_url, taken_at), one row per collection run that reached the endpoint.
-- columns: source_url (API base URL, no credentials), taken_at (TIMESTAMP UTC), run_id (raw_ingest_runs), then the
-- documented totals as returned (NULL when absent): total_memories, total_retrieval_events, total_add_events,
-- total_api_retrieval_events, total_retrieval_events_limit, total_users_with_memories, total_agents_with_memories,
-- total_runs_with_memories (BIGINT), memories_per_user, memories_per_agent, memories_per_run (DOUBLE).
CREATE TABLE IF NOT EXISTS raw_platform_stats (
    source_url                    VARCHAR NOT NULL,
    taken_at                      TIMESTAMP NOT NULL,
    run_id                        VARCHAR NOT NULL,
    total_memories                BIGINT,
    total_retrieval_events        BIGINT,
    total_add_events              BIGINT,
    total_api_retrieval_events    BIGINT,
    total_retrieval_events_limit  BIGINT,
    total_users_with_memories     BIGINT,
    total_agents_with_memories    BIGINT,
    total_runs_with_memories      BIGINT,
    memories_per_user             DOUBLE,
    memories_per_agent            DOUBLE,
    memories_per_run              DOUBLE,
    PRIMARY KEY (source_url, taken_at)
);
