-- Stores one load-test run (insert or replace by run id): one row of raw_loadtest_runs.
-- Parameters: 23 positional ?, the table's columns in order (built by Session.store).
INSERT OR REPLACE INTO raw_loadtest_runs VALUES
(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
