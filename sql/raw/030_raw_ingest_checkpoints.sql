-- raw_ingest_checkpoints: how far each input file has been read (moves only with committed rows).
-- grain: source_file. columns: source_file, file_identity (dev:inode), byte_offset (bytes of complete lines
-- consumed, decompressed for gzip; a Parquet file's size; a history DB's last rowid), line_no (lines consumed),
-- file_size, file_mtime, file_ctime (set by the checkpoint that ends a complete pass: a file whose three are
-- unchanged is not opened again), head_sha (op logs: sha256 of the first line, the stream key rotated copies share;
-- Parquet: sha256 of the file; history: anchor of the rows read), updated_at, prefix_sha (sha256 of the bytes
-- consumed: a file continues this checkpoint only if its own first byte_offset bytes hash to it).
-- collectors/logfiles.py explains how they are used.
CREATE TABLE IF NOT EXISTS raw_ingest_checkpoints (
    source_file    VARCHAR PRIMARY KEY,
    file_identity  VARCHAR,
    byte_offset    BIGINT NOT NULL,
    line_no        BIGINT NOT NULL,
    file_size      BIGINT,
    file_mtime     DOUBLE,
    head_sha       VARCHAR,
    updated_at     TIMESTAMP NOT NULL,
    file_ctime     DOUBLE,
    prefix_sha     VARCHAR
);
