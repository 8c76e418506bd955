-- Append the loadable lines (valid, not in oplog_verdict) to raw_op_events with their provenance.
-- Parameters: $source_file, $ingested_at.
INSERT INTO raw_op_events BY NAME
SELECT c.* EXCLUDE (line_no, reason, is_json, is_object, ts_text, fast_ok),
       $source_file AS source_file, c.line_no AS source_line, $ingested_at AS ingested_at
FROM oplog_checked c ANTI JOIN oplog_verdict v USING (line_no)
WHERE c.reason IS NULL;
