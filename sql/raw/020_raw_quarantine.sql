-- raw_quarantine: input records that could not be loaded, with the reason. Nothing is dropped silently.
-- grain: one bad record (source_file, source_line). columns: source_file, source_line, reason,
-- excerpt (first 200 chars, secrets redacted), source (oplog | history | snapshot), quarantined_at,
-- line_key (op logs: sha256 of the log's stream key, the line number and the line; the same line read again
-- under another name is not quarantined twice; NULL for other sources).
CREATE TABLE IF NOT EXISTS raw_quarantine (
    source_file     VARCHAR NOT NULL,
    source_line     BIGINT NOT NULL,
    reason          VARCHAR NOT NULL,
    excerpt         VARCHAR,
    source          VARCHAR NOT NULL,
    quarantined_at  TIMESTAMP NOT NULL,
    line_key        VARCHAR
);
