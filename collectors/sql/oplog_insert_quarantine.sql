-- Append the rejected lines of the current transaction (oplog_bad.sql) to raw_quarantine, except those seen
-- before (the same line of the same log, read again under another name or after a lost checkpoint).
-- Parameters: $quarantined_at.
INSERT INTO raw_quarantine (source_file, source_line, reason, excerpt, source, quarantined_at, line_key)
SELECT source_file, source_line, reason, excerpt, 'oplog', $quarantined_at, line_key
FROM oplog_bad
WHERE NOT seen;
