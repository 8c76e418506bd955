-- raw_ingest_checkpoints: how far each input file has been read (moves only with committed rows).
-- grain: source_file. columns: source_file, file_identity (dev:inode or parquet fingerprint),
-- byte_offset (bytes of complete lines consumed), line_no (lines consumed), file_size, file_mtime,
-- head_sha (sha256 of the first 4 KiB, detects a rotated/replaced file), updated_at.
CREATE TABLE IF NOT EXISTS raw_ingest_checkpoints (
    source_file    VARCHAR PRIMARY KEY,
    file_identity  VARCHAR,
    byte_offset    BIGINT NOT NULL,
    line_no        BIGINT NOT NULL,
    file_size      BIGINT,
    file_mtime     DOUBLE,
    head_sha       VARCHAR,
    updated_at     TIMESTAMP NOT NULL
);
