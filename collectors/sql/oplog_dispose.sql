-- oplog_disposed: what happens to each line of oplog_checked. grain: line_no. columns: line_no, line,
-- disposition (load | duplicate | quarantine), reason (quarantine only), the schema-v1 columns.
-- An event_id seen before (earlier in this batch, or already in raw_op_events) with the same content is a
-- duplicate (idempotent re-ingest); with different content it is quarantined, never silently replaced.
CREATE OR REPLACE TEMP TABLE oplog_disposed AS
WITH good AS (
    SELECT * EXCLUDE (line, reason), hash(*COLUMNS(* EXCLUDE (line_no, line, reason))) AS content_hash
    FROM oplog_checked
    WHERE reason IS NULL
), ranked AS (
    SELECT *, first_value(line_no) OVER w AS first_line, first_value(content_hash) OVER w AS first_hash
    FROM good
    WINDOW w AS (PARTITION BY event_id ORDER BY line_no)
), loaded AS (
    SELECT event_id, any_value(source_file) AS source_file, any_value(source_line) AS source_line,
           any_value(hash(*COLUMNS(* EXCLUDE (source_file, source_line, ingested_at)))) AS content_hash
    FROM raw_op_events
    WHERE event_id IN (SELECT event_id FROM good)
    GROUP BY event_id
), decided AS (
    -- Against the warehouse first (what is loaded stays), then against the first line in this batch.
    SELECT r.*,
        CASE WHEN l.event_id IS NOT NULL AND l.content_hash = r.content_hash THEN 'duplicate'
             WHEN l.event_id IS NOT NULL THEN 'quarantine'
             WHEN r.line_no = r.first_line THEN 'load'
             WHEN r.content_hash = r.first_hash THEN 'duplicate'
             ELSE 'quarantine' END AS disposition,
        CASE WHEN l.event_id IS NOT NULL AND l.content_hash <> r.content_hash
             THEN 'duplicate event_id with different content (already loaded from ' || l.source_file
                  || ' line ' || l.source_line || ')'
             WHEN l.event_id IS NULL AND r.line_no <> r.first_line AND r.content_hash <> r.first_hash
             THEN 'duplicate event_id with different content (first seen at line ' || r.first_line || ')'
             END AS reason
    FROM ranked r LEFT JOIN loaded l USING (event_id)
)
SELECT d.* EXCLUDE (content_hash, first_line, first_hash), c.line
FROM decided d JOIN oplog_checked c USING (line_no)
UNION ALL BY NAME
SELECT line_no, line, 'quarantine' AS disposition, reason
FROM oplog_checked
WHERE reason IS NOT NULL;
