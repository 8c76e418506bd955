-- Counts of the current batch after oplog_check.sql and oplog_verdict.sql: (loaded, duplicate, quarantined).
SELECT
    (SELECT count(*) FROM oplog_checked WHERE reason IS NULL)
        - (SELECT count(*) FROM oplog_verdict) AS loaded,
    (SELECT count(*) FROM oplog_verdict WHERE disposition = 'duplicate') AS duplicate,
    (SELECT count(*) FROM oplog_checked WHERE reason IS NOT NULL)
        + (SELECT count(*) FROM oplog_verdict WHERE disposition = 'quarantine') AS quarantined;
