-- Counts of the current batch after oplog_check.sql and oplog_verdict.sql: (loaded, duplicate, quarantined).
-- (The op-log loader counts its quarantine from oplog_bad.sql instead, where a line quarantined before is a
-- duplicate; the mapped collectors use these.)
SELECT
    (SELECT count(*) FROM oplog_checked WHERE reason IS NULL)
        - (SELECT count(*) FROM oplog_verdict) AS loaded,
    (SELECT count(*) FROM oplog_verdict WHERE disposition = 'duplicate') AS duplicate,
    (SELECT count(*) FROM oplog_checked WHERE reason IS NOT NULL)
        + (SELECT count(*) FROM oplog_verdict WHERE disposition = 'quarantine') AS quarantined;
