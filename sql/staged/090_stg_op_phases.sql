-- stg_op_phases: where each operation's time went. One row per phase of every operation that has phase timings
-- (op-log schema v2: OSS calls that reached Mem0; Platform calls, cache hits and v1 events have none and are not
-- here), so a breakdown is never diluted by calls that could not be measured.
-- grain: one row per (event_id, phase); phase is each of memlens.schema.PHASES (embedding, vector_search,
-- vector_read, vector_write, rerank, llm, history, graph) and 'other': the rest of the call (Mem0's own Python
-- between the phases, and the instrumentation), latency_ms minus the phases, never below 0.
-- columns:
--   event_id, ts, day, hour, service, mode, op, call_mode, status, infer, user_id, agent_id, tag, embedding_model,
--   llm_model, is_demo, is_error (as in stg_op_events), latency_ms (DOUBLE the whole call, ms)
--   phase (VARCHAR), phase_ms (DOUBLE ms in the phase; 0 when it did not run), ran (BOOLEAN the phase ran: its
--   op-log field was set; for 'other': phase_ms > 0)
-- The phase list is the {{ op_event_phase_list }} slot, generated from memlens/schema.py PHASES.
-- The metric layer reads it through sql/layer/inputs/35_op_phases.sql (relation phase_events, metric
-- phase_percentiles); the phases' sums per call are in stg_op_facts (metric phases).
-- Cheap: a filter and an unnest over stg_op_events (nine rows per timed call).
CREATE OR REPLACE VIEW stg_op_phases AS
WITH timed AS (
    SELECT event_id, ts, day, hour, service, mode, op, call_mode, status, infer, user_id, agent_id, tag,
           embedding_model, llm_model, is_demo, is_error, latency_ms,
           {{ op_event_phase_list }} AS phases,
           {{ op_event_phase_sum }} AS phases_ms
    FROM stg_op_events
    WHERE {{ op_event_has_phases }}
), rows AS (
    SELECT * EXCLUDE (phases, phases_ms), unnest(phases) AS p FROM timed
    UNION ALL
    SELECT * EXCLUDE (phases, phases_ms), {'phase': 'other', 'ms': greatest(latency_ms - phases_ms, 0)} AS p
    FROM timed
)
SELECT * EXCLUDE (p), p.phase AS phase, coalesce(p.ms, 0) AS phase_ms,
       CASE WHEN p.phase = 'other' THEN p.ms > 0 ELSE p.ms IS NOT NULL END AS ran
FROM rows;
