-- Append the mapped events that failed validation (or conflict with a loaded event_id) to raw_quarantine: the reason
-- names the source record (`mapped_lines.label`, e.g. the span id and name) and the op-event field; the excerpt is
-- the mapped event, secrets masked before cutting.
-- Parameters: $source_file, $quarantined_at, $secret_pattern, $excerpt_chars, $source (otel | platform).
INSERT INTO raw_quarantine (source_file, source_line, reason, excerpt, source, quarantined_at)
SELECT $source_file, m.source_line,
       regexp_replace(m.label || ': ' || q.reason, $secret_pattern, '[REDACTED]', 'g'),
       left(regexp_replace(left(c.line, 4 * $excerpt_chars), $secret_pattern, '[REDACTED]', 'g'), $excerpt_chars),
       $source, $quarantined_at
FROM (
    SELECT line_no, reason FROM oplog_checked WHERE reason IS NOT NULL
    UNION ALL
    SELECT line_no, reason FROM oplog_verdict WHERE disposition = 'quarantine'
) q
JOIN oplog_chunk c USING (line_no)
JOIN mapped_lines m USING (line_no);
