-- oplog_bad: every line of the current transaction that goes to quarantine, with what raw_quarantine stores.
-- grain: one rejected line. columns: line_no (row key: file number << $line_bits | line), source_file,
-- source_line, reason and excerpt (secrets masked before cutting), line_key (sha256 of the file's stream key,
-- the line number and the line: the same line of the same log under any name), seen (this line_key is
-- quarantined already, or earlier in this transaction: counted as a duplicate, not stored again).
-- Sources: validation (oplog_checked.reason), conflicting event_ids (oplog_verdict), and the lines rejected before
-- parsing (`oplog_rejected_arrow`, reason, excerpt and line_key made in Python).
-- Parameters: $line_bits, $line_mask, $secret_pattern, $excerpt_chars.
CREATE OR REPLACE TEMP TABLE oplog_bad AS
WITH rejected AS (
    SELECT q.line_no, f.source_file, q.line_no & $line_mask AS source_line,
           regexp_replace(q.reason, $secret_pattern, '[REDACTED]', 'g') AS reason,
           left(regexp_replace(left(rtrim(c.line, chr(10) || chr(13)), 4 * $excerpt_chars), $secret_pattern,
                               '[REDACTED]', 'g'), $excerpt_chars) AS excerpt,
           sha256(f.stream_key || ':' || (q.line_no & $line_mask) || ':' || c.line) AS line_key
    FROM (
        SELECT line_no, reason FROM oplog_checked WHERE reason IS NOT NULL
        UNION ALL
        SELECT line_no, reason FROM oplog_verdict WHERE disposition = 'quarantine'
    ) q
    JOIN oplog_chunk c USING (line_no)
    JOIN oplog_files f ON f.file_no = q.line_no >> $line_bits
    UNION ALL
    SELECT r.line_no, f.source_file, r.line_no & $line_mask, r.reason, r.excerpt, r.line_key
    FROM oplog_rejected_arrow r JOIN oplog_files f ON f.file_no = r.line_no >> $line_bits
)
SELECT *,
       row_number() OVER (PARTITION BY line_key ORDER BY line_no) > 1
       OR line_key IN (SELECT line_key FROM raw_quarantine WHERE line_key IS NOT NULL) AS seen
FROM rejected;
