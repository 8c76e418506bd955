-- Month-to-date cost per driver: one row per user (kind 'user') and per op (kind 'op').
-- Columns: kind, driver, cost_usd, ops. Parameter: $month (first day of the month, DATE).
SELECT 'user' AS kind, coalesce(user_id, '(none)') AS driver, sum(total_cost_usd) AS cost_usd, count(*) AS ops
FROM stg_op_costs WHERE month = $month GROUP BY 2
UNION ALL
SELECT 'op' AS kind, op AS driver, sum(total_cost_usd) AS cost_usd, count(*) AS ops
FROM stg_op_costs WHERE month = $month GROUP BY 2
