-- Append the loadable lines (valid, not in oplog_verdict) to raw_op_events with their provenance: the file (from
-- oplog_files, by the row key's file number) and the line number. Parameters: $line_bits, $line_mask, $ingested_at.
INSERT INTO raw_op_events BY NAME
SELECT c.* EXCLUDE (line_no, reason, is_json, is_object, ts_text, fast_ok),
       f.source_file, c.line_no & $line_mask AS source_line, $ingested_at AS ingested_at
FROM oplog_checked c
JOIN oplog_files f ON f.file_no = c.line_no >> $line_bits
ANTI JOIN oplog_verdict v USING (line_no)
WHERE c.reason IS NULL;
