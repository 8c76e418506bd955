-- span: when the selected calls happened: the first and the last call.
-- reads: op_facts
-- exact: yes
-- grain: one row per group of the requested keys (/*keys*/); one row without keys.
-- columns: first_ts, last_ts (TIMESTAMP UTC start of the first / last call; NULL without calls)
SELECT /*keys*/ min(ts) AS first_ts, max(ts) AS last_ts
FROM op_facts
GROUP BY ALL
