-- raw_otel_span_counts: what `memlens collect otel` did with every span it read, so that spans no mapping knows are
-- counted and shown, never dropped silently (collectors/otel.py, mappings in collectors/otel_mappings/).
-- grain: (source_file, convention, disposition, span_name). Counts are of the file as read: re-reading a rotated or
-- replaced file from its start resets its rows first.
-- columns: source_file (resolved path), convention (mapping that claimed the span, '' for none), disposition
-- (op | phase | child | ignored | unknown | late; see collectors/otel_mapping.py), span_name, spans (BIGINT),
-- last_seen_at (TIMESTAMP UTC of the last collection that counted one).
CREATE TABLE IF NOT EXISTS raw_otel_span_counts (
    source_file   VARCHAR NOT NULL,
    convention    VARCHAR NOT NULL,
    disposition   VARCHAR NOT NULL,
    span_name     VARCHAR NOT NULL,
    spans         BIGINT NOT NULL,
    last_seen_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (source_file, convention, disposition, span_name)
);
