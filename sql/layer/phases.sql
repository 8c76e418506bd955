-- phases: where the time of the selected operations went, per phase of a Mem0 call (memlens.schema.PHASES: the
-- embedding model, vector-store search / reads / writes, reranker, LLM, history DB, graph store) and 'other' (the
-- rest of the call: Mem0's own Python between the phases, and the instrumentation). Over the calls with phase
-- timings only (op-log schema v2, OSS calls that reached Mem0; Platform calls, cache hits and v1 events have
-- none), so a breakdown is never diluted by calls that could not be measured: timed_ops says how many.
-- Additive (sums of stg_op_facts' *_sum_ms): answers from the hourly rollup as from the events. The phases'
-- percentiles need the event rows: phase_percentiles.
-- reads: op_facts
-- grain: one row per (group of the requested keys, phase) for groups with at least one timed call; the nine
--   phases in a call's order (phase_order).
-- columns:
--   phase (VARCHAR embedding | vector_search | vector_read | vector_write | rerank | llm | history | graph | other),
--   phase_order (INTEGER 1..9)
--   timed_ops (BIGINT calls with phase timings in the group)
--   avg_ms (DOUBLE ms in the phase per timed call, 0 for calls that skipped it: the phases' avg_ms of a group add
--   up to timed_avg_ms)
--   share (DOUBLE the phase's part of the timed calls' latency, 0..1: a group's shares add up to 1)
--   timed_avg_ms (DOUBLE average latency of the timed calls)
WITH sums AS (
    SELECT /*keys*/ sum(timed_ops) AS timed_ops, sum(timed_sum_ms) AS timed_sum_ms,
           sum(embedding_sum_ms) AS embedding_sum_ms,
           sum(vector_search_sum_ms) AS vector_search_sum_ms,
           sum(vector_read_sum_ms) AS vector_read_sum_ms,
           sum(vector_write_sum_ms) AS vector_write_sum_ms,
           sum(rerank_sum_ms) AS rerank_sum_ms,
           sum(llm_sum_ms) AS llm_sum_ms,
           sum(history_sum_ms) AS history_sum_ms,
           sum(graph_sum_ms) AS graph_sum_ms,
           sum(other_sum_ms) AS other_sum_ms
    FROM op_facts
    GROUP BY ALL
    HAVING sum(timed_ops) > 0
), per_phase AS (
    SELECT /*keys*/ 'embedding' AS phase, 1 AS phase_order, embedding_sum_ms AS phase_sum_ms, timed_ops, timed_sum_ms
    FROM sums
    UNION ALL
    SELECT /*keys*/ 'vector_search', 2, vector_search_sum_ms, timed_ops, timed_sum_ms FROM sums
    UNION ALL
    SELECT /*keys*/ 'vector_read', 3, vector_read_sum_ms, timed_ops, timed_sum_ms FROM sums
    UNION ALL
    SELECT /*keys*/ 'vector_write', 4, vector_write_sum_ms, timed_ops, timed_sum_ms FROM sums
    UNION ALL
    SELECT /*keys*/ 'rerank', 5, rerank_sum_ms, timed_ops, timed_sum_ms FROM sums
    UNION ALL
    SELECT /*keys*/ 'llm', 6, llm_sum_ms, timed_ops, timed_sum_ms FROM sums
    UNION ALL
    SELECT /*keys*/ 'history', 7, history_sum_ms, timed_ops, timed_sum_ms FROM sums
    UNION ALL
    SELECT /*keys*/ 'graph', 8, graph_sum_ms, timed_ops, timed_sum_ms FROM sums
    UNION ALL
    SELECT /*keys*/ 'other', 9, other_sum_ms, timed_ops, timed_sum_ms FROM sums
)
SELECT /*keys*/ phase, phase_order, CAST(timed_ops AS BIGINT) AS timed_ops,
       phase_sum_ms / timed_ops AS avg_ms,
       phase_sum_ms / nullif(timed_sum_ms, 0) AS share,
       timed_sum_ms / timed_ops AS timed_avg_ms
FROM per_phase
ORDER BY /*keys*/ phase_order
