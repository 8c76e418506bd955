-- oplog_verdict: lines of oplog_checked that passed validation but must NOT be loaded, because their
-- event_id was seen before. grain: line_no (row key: file number << $line_bits | line number; files of the
-- transaction in oplog_files). columns: line_no, disposition (duplicate | quarantine), reason.
-- Same event_id and same content as a row already in raw_op_events, or as an earlier line of this batch:
-- a duplicate (idempotent re-ingest). Different content: quarantined, never silently replaced. Only rows
-- whose event_id repeats are hashed, so a batch of new events costs one probe of raw_op_events.
CREATE OR REPLACE TEMP TABLE oplog_verdict AS
WITH good AS (
    SELECT * EXCLUDE (reason, is_json, is_object, ts_text, fast_ok) FROM oplog_checked WHERE reason IS NULL
), loaded AS (
    SELECT event_id, any_value(source_file) AS source_file, any_value(source_line) AS source_line,
           any_value(hash(*COLUMNS(* EXCLUDE (source_file, source_line, ingested_at)))) AS content_hash
    FROM raw_op_events
    WHERE event_id IN (SELECT event_id FROM good)
    GROUP BY event_id
), repeated AS (
    SELECT event_id FROM good GROUP BY event_id HAVING count(*) > 1
), candidates AS (
    SELECT line_no, event_id, hash(*COLUMNS(* EXCLUDE (line_no))) AS content_hash
    FROM good
    WHERE event_id IN (SELECT event_id FROM loaded) OR event_id IN (SELECT event_id FROM repeated)
), ranked AS (
    SELECT *, first_value(line_no) OVER w AS first_line, first_value(content_hash) OVER w AS first_hash
    FROM candidates
    WINDOW w AS (PARTITION BY event_id ORDER BY line_no)
), decided AS (
    -- Against the warehouse first (what is loaded stays), then against the first line in this batch.
    SELECT r.line_no,
        CASE WHEN l.event_id IS NOT NULL AND l.content_hash = r.content_hash THEN 'duplicate'
             WHEN l.event_id IS NOT NULL THEN 'quarantine'
             WHEN r.line_no = r.first_line THEN 'load'
             WHEN r.content_hash = r.first_hash THEN 'duplicate'
             ELSE 'quarantine' END AS disposition,
        CASE WHEN l.event_id IS NOT NULL AND l.content_hash <> r.content_hash
             THEN 'duplicate event_id with different content (already loaded from ' || l.source_file
                  || ' line ' || l.source_line || ')'
             WHEN l.event_id IS NULL AND r.line_no <> r.first_line AND r.content_hash <> r.first_hash
             THEN 'duplicate event_id with different content (first seen at line ' || (r.first_line & $line_mask)
                  || CASE WHEN r.first_line >> $line_bits <> r.line_no >> $line_bits
                          THEN ' of ' || (SELECT source_file FROM oplog_files WHERE file_no = r.first_line >> $line_bits)
                          ELSE '' END || ')'
             END AS reason
    FROM ranked r LEFT JOIN loaded l USING (event_id)
)
SELECT line_no, disposition, reason FROM decided WHERE disposition <> 'load';
