-- span: when the selected calls happened: the first and the last call, and how many are synthetic demo rows.
-- reads: op_facts
-- exact: yes
-- grain: one row per group of the requested keys (/*keys*/); one row without keys.
-- columns: first_ts, last_ts (TIMESTAMP UTC start of the first / last call; NULL without calls)
--   demo_ops (BIGINT calls written by `memlens demo`: reports built on them say so)
SELECT /*keys*/ min(ts) AS first_ts, max(ts) AS last_ts,
       CAST(count(*) FILTER (WHERE is_demo) AS BIGINT) AS demo_ops
FROM op_facts
GROUP BY ALL
