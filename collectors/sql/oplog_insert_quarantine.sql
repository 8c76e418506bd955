-- Append the rejected lines of oplog_disposed to raw_quarantine: reason names the field; the excerpt is the
-- first 200 characters with anything matching the secret pattern masked (before cutting).
-- Parameters: $source_file, $quarantined_at, $secret_pattern, $excerpt_chars.
INSERT INTO raw_quarantine (source_file, source_line, reason, excerpt, source, quarantined_at)
SELECT $source_file, line_no,
       regexp_replace(reason, $secret_pattern, '[REDACTED]', 'g'),
       left(regexp_replace(left(rtrim(line, chr(10) || chr(13)), 4 * $excerpt_chars), $secret_pattern,
                           '[REDACTED]', 'g'), $excerpt_chars),
       'oplog', $quarantined_at
FROM oplog_disposed
WHERE disposition = 'quarantine';
