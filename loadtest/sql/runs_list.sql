-- Every stored load-test run with its figures, newest first: one row per run (metric_run_summary).
-- Columns: run_id, group_id, kind, scenario, settings, timings, latency percentiles, cache and cost figures.
-- No parameters.
SELECT tag AS run_id, group_id, kind, scenario_name, variant, round, users, call_mode, backend, cache_enabled,
       top_k, rerank, config_hash, started_at, wall_s, ops, errors, error_rate, throughput_ops_s,
       avg_ms, p50_ms, p95_ms, p99_ms, max_ms, search_p50_ms, search_p95_ms, cache_hit_rate,
       cost_per_1k_ops_usd, total_cost_usd, priced
FROM metric_run_summary
WHERE kind IS NOT NULL
ORDER BY started_at DESC, tag DESC
