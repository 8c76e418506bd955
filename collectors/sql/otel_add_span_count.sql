-- Add a batch's spans to the running count of one (source_file, convention, disposition, span_name): the row is
-- replaced by one holding the stored count plus the batch's (INSERT OR REPLACE: a key conflict replaces in DuckDB;
-- on ClickHouse the table is a ReplacingMergeTree on the same key). Parameters: the key, $spans, $now.
INSERT OR REPLACE INTO raw_otel_span_counts
SELECT $source_file, $convention, $disposition, $span_name,
       $spans + coalesce((SELECT spans FROM raw_otel_span_counts
                          WHERE source_file = $source_file AND convention = $convention
                            AND disposition = $disposition AND span_name = $span_name), 0),
       $now;
