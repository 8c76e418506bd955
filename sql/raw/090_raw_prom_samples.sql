-- raw_prom_samples: points of the memlens range queries against a Prometheus server, loaded by
-- collectors/prometheus.py (`memlens collect prometheus`). Values are what Prometheus computed
-- (rates, ratios, histogram quantiles over the alerts.rate_window), not raw counters.
-- grain: (source_url, query_name, labels, ts) — unique: a collection replaces each range it fetched (delete, then
-- insert, one transaction under the collection lock), so re-collecting a window adds nothing. No PRIMARY KEY
-- constraint: its in-memory index cost ~350 bytes a point at every insert (1.2 GB for 2.8M points); warehouses made
-- before keep theirs, which the range replace respects.
-- columns: source_url (Prometheus base URL without credentials), query_name (latency_p95_seconds,
-- ops_per_second, error_ratio, cache_hit_ratio, tokens_per_second, cost_usd_per_second, ...; see
-- collectors/prometheus.py QUERIES), labels (canonical JSON object of the series labels, sorted keys),
-- service, op (copied from labels when present), ts (UTC evaluation time, on the step grid), value
-- (finite DOUBLE; NaN points such as quantiles of idle series are not stored), step_seconds (query
-- resolution), run_id (raw_ingest_runs), ingested_at (UTC).
CREATE TABLE IF NOT EXISTS raw_prom_samples (
    source_url    VARCHAR NOT NULL,
    query_name    VARCHAR NOT NULL,
    labels        VARCHAR NOT NULL,
    service       VARCHAR,
    op            VARCHAR,
    ts            TIMESTAMP NOT NULL,
    value         DOUBLE NOT NULL,
    step_seconds  DOUBLE NOT NULL,
    run_id        VARCHAR NOT NULL,
    ingested_at   TIMESTAMP NOT NULL
);
