-- window_service_cost_growth: per service at every evaluation step from its first call to $end, the cost of the calls
-- in the last $cost_steps steps (the daily-budget alert's rolling 24 h) and the memories stored now and
-- $growth_steps steps ago (the storage-growth alert's week), as the rule file computes them from the counters:
-- stored = memories created - memories deleted since the first call, growth = stored / stored before - 1.
-- grain: one row per (k, service).
-- columns:
--   k (BIGINT evaluation step: t = k * $step_s seconds since the epoch), t (TIMESTAMP UTC), service (VARCHAR)
--   cost_usd (DOUBLE stg_op_costs.total_cost_usd of the calls in (k - $cost_steps, k])
--   stored (BIGINT memories created - deleted up to k), stored_before (BIGINT the same $growth_steps steps earlier,
--   NULL before the service's first created memory: its counter did not exist), growth_ratio (DOUBLE stored / stored_before - 1, NULL unless
--   stored_before > 0)
-- parameters: $step_s (DOUBLE evaluation interval, s), $cost_steps, $growth_steps (BIGINT windows / interval),
--   $start (TIMESTAMP UTC, NULL = all history: calls from it on), $end (TIMESTAMP UTC), $matchers (alerts.selector, STRUCT(col, op, val)[], see macros.sql). Needs macros.sql.
-- Reads stg_op_events for memories_created/deleted: what the instrumentation's change counters count (the layer's
-- memory_deltas are Mem0's history DB, another source). Cost: one scan of stg_op_costs joined to it by event_id; per service a dense run of steps with ASOF joins
-- against running totals.
WITH calls AS (
    SELECT
        window_step(e.ts, $step_s) AS k, e.service, coalesce(c.total_cost_usd, 0) AS cost_usd,
        coalesce(e.memories_created, 0) - coalesce(e.memories_deleted, 0) AS stored_delta,
        coalesce(e.memories_created, 0) > 0 AS creates
    FROM stg_op_events AS e
    JOIN stg_op_costs AS c USING (event_id)
    WHERE window_match($matchers, e.service, e.mode, e.call_mode, e.op, window_infer(e.infer))
      AND window_step(e.ts, $step_s) <= window_step($end, $step_s) AND ($start IS NULL OR e.ts >= $start)
),
running AS (  -- totals up to and including step k
    SELECT k, service, sum(cost_usd) OVER w AS cost_usd, sum(stored_delta) OVER w AS stored
    FROM (SELECT k, service, sum(cost_usd) AS cost_usd, sum(stored_delta) AS stored_delta FROM calls GROUP BY ALL)
    WINDOW w AS (PARTITION BY service ORDER BY k)
),
evals AS (
    SELECT service, k, k - $cost_steps AS k_cost, k - $growth_steps AS k_growth
    FROM (SELECT service, unnest(range(min(k), window_step($end, $step_s) + 1)) AS k FROM running GROUP BY service)
),
joined AS (
    SELECT
        e.k, e.service, n.cost_usd - coalesce(c.cost_usd, 0) AS cost_usd, CAST(n.stored AS BIGINT) AS stored,
        CASE WHEN e.k_growth >= f.first_k THEN CAST(coalesce(g.stored, 0) AS BIGINT) END AS stored_before
    FROM evals AS e
    -- the created-memories counter exists from the first call that created one: before it, nothing to compare
    LEFT JOIN (SELECT service, min(k) FILTER (WHERE creates) AS first_k FROM calls GROUP BY service) AS f USING (service)
    ASOF JOIN running AS n ON n.service = e.service AND n.k <= e.k
    ASOF LEFT JOIN running AS c ON c.service = e.service AND c.k <= e.k_cost
    ASOF LEFT JOIN running AS g ON g.service = e.service AND g.k <= e.k_growth
)
SELECT
    k, make_timestamp(CAST(k * $step_s * 1000000 AS BIGINT)) AS t, service, cost_usd, stored, stored_before,
    CASE WHEN stored_before > 0 THEN stored / stored_before - 1 END AS growth_ratio
FROM joined
ORDER BY service, k
