-- cache: the miss penalty of the reference ("Miss penalty: < 2x uncached time"): how much longer a search the
-- cache looked up and missed takes than a search no cache answered, per group. Each miss is compared with the
-- uncached searches of its own service (bypassed, or made while no cache was in front; with a user id, so
-- like the searches a cache looks up), never with hits: a fast hit says the cache works, not what a miss costs.
-- Misses of a service with no uncached search in the group have no baseline and are left out; when no miss has
-- one, miss_penalty is NULL and miss_penalty_note says why.
-- reads: op_facts
-- grain: one row per group of the requested keys (/*keys*/); one row without keys.
-- columns:
--   ok_misses (BIGINT successful cache misses), compared_misses (BIGINT of those, in a service with a baseline),
--   baseline_searches (BIGINT successful uncached searches with a user id, in the services of compared misses)
--   avg_compared_miss_ms (DOUBLE mean latency of the compared misses)
--   baseline_ms (DOUBLE the uncached mean of each compared miss's service, weighted by its misses)
--   miss_penalty (DOUBLE avg_compared_miss_ms / baseline_ms = sum(miss ms) / sum(misses x its service's
--   uncached mean); NULL without a baseline)
--   miss_penalty_note (VARCHAR why miss_penalty is NULL, else NULL)
WITH per_service AS (
    SELECT /*keys*/ service AS baseline_service,
           sum(ok_misses) AS n_miss, sum(ok_miss_sum_ms) AS miss_ms,
           sum(uncached_searches) AS n_base, sum(uncached_sum_ms) AS base_ms
    FROM op_facts
    GROUP BY ALL
)
SELECT /*keys*/
    CAST(coalesce(sum(n_miss), 0) AS BIGINT) AS ok_misses,
    CAST(coalesce(sum(n_miss) FILTER (WHERE n_base > 0), 0) AS BIGINT) AS compared_misses,
    CAST(coalesce(sum(n_base) FILTER (WHERE n_miss > 0), 0) AS BIGINT) AS baseline_searches,
    sum(miss_ms) FILTER (WHERE n_base > 0) / nullif(sum(n_miss) FILTER (WHERE n_base > 0), 0) AS avg_compared_miss_ms,
    sum(n_miss * base_ms / n_base) FILTER (WHERE n_base > 0)
        / nullif(sum(n_miss) FILTER (WHERE n_base > 0), 0) AS baseline_ms,
    sum(miss_ms) FILTER (WHERE n_base > 0) / nullif(sum(n_miss * base_ms / n_base) FILTER (WHERE n_base > 0), 0)
        AS miss_penalty,
    CASE
        WHEN coalesce(sum(n_miss), 0) = 0 THEN 'no successful cache misses in the selection'
        WHEN coalesce(sum(n_miss) FILTER (WHERE n_base > 0), 0) = 0
            THEN 'no uncached searches to compare with: no search with a user id was bypassed or made without '
                 || 'a cache in the services with misses'
        WHEN coalesce(sum(n_miss * base_ms / n_base) FILTER (WHERE n_base > 0), 0) = 0
            THEN 'the uncached searches took 0 ms'
    END AS miss_penalty_note
FROM per_service
GROUP BY ALL
