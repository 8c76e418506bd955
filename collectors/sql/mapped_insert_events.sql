-- Append the loadable mapped events (valid, not in oplog_verdict) to raw_op_events with their provenance: the
-- source position of each (registered table `mapped_lines(line_no, source_line, label)`: the OTLP file line of the
-- span, or the Platform event's position in the run), not the position of the mapped event in the batch.
-- Parameters: $source_file, $ingested_at.
INSERT INTO raw_op_events BY NAME
SELECT c.* EXCLUDE (line_no, reason, is_json, is_object, ts_text, fast_ok),
       $source_file AS source_file, m.source_line AS source_line, $ingested_at AS ingested_at
FROM oplog_checked c
JOIN mapped_lines m USING (line_no)
ANTI JOIN oplog_verdict v USING (line_no)
WHERE c.reason IS NULL;
