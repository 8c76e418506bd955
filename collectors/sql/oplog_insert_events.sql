-- Append the loadable lines of oplog_disposed to raw_op_events with their provenance.
-- Parameters: $source_file, $ingested_at.
INSERT INTO raw_op_events BY NAME
SELECT * EXCLUDE (line_no, line, disposition, reason),
       $source_file AS source_file, line_no AS source_line, $ingested_at AS ingested_at
FROM oplog_disposed
WHERE disposition = 'load';
