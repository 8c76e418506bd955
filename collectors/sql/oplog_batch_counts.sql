-- Counts of the current transaction after oplog_check, oplog_verdict and oplog_bad: (loaded, duplicate,
-- quarantined). Duplicates: events already loaded (same event_id, same content) and rejected lines quarantined
-- before (same line_key).
SELECT
    (SELECT count(*) FROM oplog_checked WHERE reason IS NULL)
        - (SELECT count(*) FROM oplog_verdict) AS loaded,
    (SELECT count(*) FROM oplog_verdict WHERE disposition = 'duplicate')
        + (SELECT count(*) FROM oplog_bad WHERE seen) AS duplicate,
    (SELECT count(*) FROM oplog_bad WHERE NOT seen) AS quarantined;
