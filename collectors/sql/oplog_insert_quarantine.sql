-- Append the rejected lines (failed validation, or a conflicting event_id in oplog_verdict) to raw_quarantine:
-- the reason names the field; the excerpt is the first $excerpt_chars characters of the line with anything
-- matching the secret pattern masked (masked before cutting, so no half-secret survives).
-- Parameters: $source_file, $quarantined_at, $secret_pattern, $excerpt_chars.
INSERT INTO raw_quarantine (source_file, source_line, reason, excerpt, source, quarantined_at)
SELECT $source_file, q.line_no,
       regexp_replace(q.reason, $secret_pattern, '[REDACTED]', 'g'),
       left(regexp_replace(left(rtrim(c.line, chr(10) || chr(13)), 4 * $excerpt_chars), $secret_pattern,
                           '[REDACTED]', 'g'), $excerpt_chars),
       'oplog', $quarantined_at
FROM (
    SELECT line_no, reason FROM oplog_checked WHERE reason IS NOT NULL
    UNION ALL
    SELECT line_no, reason FROM oplog_verdict WHERE disposition = 'quarantine'
) q JOIN oplog_chunk c USING (line_no);
