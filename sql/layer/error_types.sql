-- error_types: the most frequent error type among the selected calls that failed, per group.
-- reads: op_facts
-- exact: yes
-- grain: one row per group of the requested keys (/*keys*/); one row without keys.
-- columns: top_error_type (VARCHAR the error_type most failed calls recorded; NULL without errors),
--   error_types (BIGINT distinct error types among the failed calls)
SELECT /*keys*/ mode(error_type) FILTER (WHERE errors = 1) AS top_error_type,
       count(DISTINCT error_type) FILTER (WHERE errors = 1) AS error_types
FROM op_facts
GROUP BY ALL
