-- raw_platform_checkpoints: how far `memlens collect platform` has read `GET /v1/events/` of one Platform account
-- (moves only with committed events). The next run pages from the newest event back to resume_from.
-- grain: source_url. columns: source_url (API base URL, no credentials), resume_from (TIMESTAMP UTC: created_at of
-- the oldest event still PENDING or RUNNING when last read, else of the newest event read), newest_event_at
-- (TIMESTAMP UTC), newest_event_id, events_seen (BIGINT events read over all runs), updated_at.
CREATE TABLE IF NOT EXISTS raw_platform_checkpoints (
    source_url       VARCHAR PRIMARY KEY,
    resume_from      TIMESTAMP,
    newest_event_at  TIMESTAMP,
    newest_event_id  VARCHAR,
    events_seen      BIGINT NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
