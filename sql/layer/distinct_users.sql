-- distinct_users: how many different users made the selected calls, per group (calls without a user not counted).
-- reads: op_facts
-- needs: user_id
-- grain: one row per group of the requested keys (/*keys*/); one row without keys.
-- columns: users (BIGINT distinct user_id)
SELECT /*keys*/ count(DISTINCT user_id) AS users
FROM op_facts
GROUP BY ALL
