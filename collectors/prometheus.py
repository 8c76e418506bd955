"""Prometheus collector: memlens range queries → raw_prom_samples (`memlens collect prometheus`).

Every query is fetched before the warehouse is touched, so a Prometheus that is down, slow (timeout
from the config), refuses the credentials or rejects a query gives one clear CollectorError and leaves
the warehouse exactly as it was. Then one transaction inserts the points (duplicates ignored: the
primary key is source_url, query_name, labels, ts) and moves the per-query checkpoints, so re-running
is idempotent and an incremental run starts where the last one ended.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import duckdb
import numpy as np
import pyarrow as pa
import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from urllib3.util.retry import Retry

from memlens.alerts import promql
from memlens.collectors.base import CollectorError, IngestResult, collection_run, redact, utcnow
from memlens.config import Config

log = logging.getLogger(__name__)

SOURCE = "prometheus"
MAX_POINTS = 10_000  # Prometheus refuses more than 11,000 points per series in one range query
SO = ("service", "op")
SOP = ("service", "op", "phase")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")


@dataclass(frozen=True)
class Query:
    name: str
    expr: str


def parse_duration(text: str, field: str = "duration") -> float:
    """Seconds of a Prometheus duration (`90s`, `1h30m`) or a plain number of seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION_RE.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{field}: {text!r} is not a duration like 30s, 5m, 6h or 1d")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def queries(cfg: Config) -> list[Query]:
    """The range queries, in a fixed order. Latency and ratios per (service, op), like the rule file."""
    w = cfg.alerts.rate_window
    slow_le = promql.le_for_ms(cfg.thresholds.slow_op_ms, "thresholds.slow_op_ms")
    out = [
        Query("latency_p50_seconds", promql.quantile(0.50, SO, w)),
        Query("latency_p95_seconds", promql.quantile(0.95, SO, w)),
        Query("latency_p99_seconds", promql.quantile(0.99, SO, w)),
        Query("latency_mean_seconds", promql.mean_latency(SO, w)),
        Query("ops_per_second", promql.ops_rate(SO, w)),
        Query("error_ratio", promql.error_ratio(SO, w)),
        Query("errors_per_second", f"sum by (service, op, error_type) (rate({promql.ERRORS}[{w}]))"),
        Query("slow_ratio", promql.slower_than_ratio(slow_le, SO, w)),
        Query("cache_hit_ratio", promql.cache_hit_ratio(SO, w)),
        Query("tokens_per_second", promql.token_rate(("service", "kind", "model"), w)),
        Query("cost_usd_per_second", promql.cost(cfg, "rate", ("service",), w)),
        Query("memory_changes_per_second", f"sum by (service, event) (rate({promql.CHANGES}[{w}]))"),
        # where OSS calls spent their time, per (service, op, phase)
        Query("phase_seconds_per_second", promql.phase_seconds_rate(SOP, w)),
        Query("phase_p95_seconds", promql.phase_quantile(0.95, SOP, w)),
    ]
    job = cfg.prometheus.process_job
    sel = f"{{job={promql.repr_label(job)}}}" if job else ""
    # Resource use of the scraped processes (prometheus_client's default process collector).
    out.append(Query("process_cpu_cores", f"rate(process_cpu_seconds_total{sel}[{w}])"))
    out.append(Query("process_resident_memory_bytes", f"process_resident_memory_bytes{sel}"))
    if cfg.prometheus.vector_points_metric:
        out.append(Query("vector_store_points", f"sum({cfg.prometheus.vector_points_metric})"))
    return out


def public_url(url: str) -> str:
    """The URL as stored and logged: no user:password, no query string."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _headers(cfg: Config) -> dict[str, str] | None:
    name = cfg.prometheus.auth_header_env
    if not name:
        return None
    value = os.environ.get(name)
    if not value:
        raise CollectorError(f"prometheus.auth_header_env names ${name}, which is not set (it must hold the "
                             f"Authorization header value, e.g. 'Bearer <token>')")
    return {"Authorization": value}


def connect_prometheus(url: str, cfg: Config) -> PrometheusConnect:
    p = cfg.prometheus
    headers = _headers(cfg)
    if headers:  # the configured header wins over user:password in the URL (requests would prefer the URL's)
        url = public_url(url)
    retry = Retry(total=p.retries, connect=p.retries, read=False, backoff_factor=0.2,  # a slow answer is not retried
                  status_forcelist=(502, 503, 504), allowed_methods=("GET",))
    return PrometheusConnect(url=url.rstrip("/"), headers=headers, disable_ssl=not p.verify_tls,
                             retry=retry, timeout=p.timeout_s)


def _to_utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


def _align(ts: float, step: float) -> float:
    """Floor to the step grid, so every run evaluates at the same instants (idempotent keys)."""
    return math.floor(ts / step) * step


def _fetch(pc: PrometheusConnect, url: str, q: Query, start: float, end: float, step: float,
           timeout_s: float) -> list[dict]:
    """All series of `q` over [start, end], in chunks Prometheus accepts. Errors → CollectorError."""
    series: list[dict] = []
    chunk = step * MAX_POINTS
    t = start
    while t <= end:
        t_end = min(end, t + chunk - step)
        try:
            series += pc.custom_query_range(q.expr, datetime.fromtimestamp(t, UTC), datetime.fromtimestamp(t_end, UTC),
                                            step=f"{step:g}")
        except requests.exceptions.Timeout as exc:
            raise CollectorError(f"Prometheus at {url} did not answer query {q.name} within "
                                 f"{timeout_s:g} s (prometheus.timeout_s)") from exc
        except requests.exceptions.ConnectionError as exc:
            raise CollectorError(f"cannot reach Prometheus at {url} ({_reason(exc)}); is it running and is "
                                 f"prometheus.url / --url right?") from exc
        except PrometheusApiClientException as exc:
            text = str(exc)  # "HTTP Status Code 400 (b'{...\"error\": \"...\"}')": keep the status and the error
            status = re.search(r"HTTP Status Code \d+", text)
            error = re.search(r'"error":\s*"((?:[^"\\]|\\.)*)"', text)
            detail = f"{status.group(0) if status else 'error'}: {error.group(1) if error else text[:300]}"
            raise CollectorError(f"Prometheus at {url} rejected query {q.name} ({detail}); "
                                 f"check the URL, the credentials and the Prometheus version") from exc
        except requests.exceptions.RetryError as exc:  # 502/503/504 still after prometheus.retries attempts
            code = re.search(r"too many (\d+) error responses", str(exc))
            raise CollectorError(f"Prometheus at {url} answered HTTP {code.group(1) if code else '5xx'} to query "
                                 f"{q.name} (also after prometheus.retries); it may be overloaded or restarting, "
                                 "try again later") from exc
        except (requests.exceptions.RequestException, ValueError, KeyError) as exc:
            raise CollectorError(f"Prometheus at {url} gave an unusable answer to {q.name}: "
                                 f"{type(exc).__name__}: {redact(str(exc))[:300]}") from exc
        t = t_end + step
    return series


def _reason(exc: Exception) -> str:
    """The OS-level cause of a connection error ("Connection refused"), not urllib3's retry wrapper."""
    text = str(exc)
    found = (re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
             or re.search(r"(Name or service not known|SSL[^'\")]*)", text))
    return redact(found.group(1).strip() if found else type(exc).__name__)


def _columns(fetched: list[tuple[Query, list[dict]]], source: str, step: float, run_id: str,
             now: datetime) -> pa.Table:
    """The finite points of every series as an Arrow table (columnar: no per-point Python objects kept)."""
    names, keys, services, ops, stamps, values = [], [], [], [], [], []
    for q, series in fetched:
        for s in series:
            labels = dict(s.get("metric", {}))
            key = json.dumps(labels, sort_keys=True, separators=(",", ":"))
            points = np.array(s.get("values", []), dtype=float).reshape(-1, 2)  # Prometheus sends values as text
            points = points[np.isfinite(points[:, 1])]
            n = len(points)
            names += [q.name] * n
            keys += [key] * n
            services += [labels.get("service")] * n
            ops += [labels.get("op")] * n
            stamps.append(points[:, 0])
            values.append(points[:, 1])
    ts = np.concatenate(stamps) if stamps else np.array([], dtype=float)
    n = len(ts)
    return pa.table({
        "source_url": pa.array([source] * n, pa.string()),
        "query_name": pa.array(names, pa.string()),
        "labels": pa.array(keys, pa.string()),
        "service": pa.array(services, pa.string()),
        "op": pa.array(ops, pa.string()),
        "ts": pa.array(np.round(ts * 1e6).astype("int64"), pa.timestamp("us")),
        "value": pa.array(np.concatenate(values) if values else [], pa.float64()),
        "step_seconds": pa.array([step] * n, pa.float64()),
        "run_id": pa.array([run_id] * n, pa.string()),
        "ingested_at": pa.array([now] * n, pa.timestamp("us")),
    })


def collect_prometheus(con: duckdb.DuckDBPyConnection, url: str | None, cfg: Config,
                       start: datetime | None = None, end: datetime | None = None,
                       step: str | float | None = None) -> IngestResult:
    """Range-query the memlens metrics into raw_prom_samples.

    `start`/`end` are UTC datetimes (naive = UTC). Without `start`, each query resumes after its checkpoint,
    or covers `prometheus.window` back from `end` (default now). `step` defaults to `prometheus.step`.
    """
    url = (url or cfg.prometheus.url).rstrip("/")
    source = public_url(url)
    step_s = parse_duration(str(step if step is not None else cfg.prometheus.step), "step")
    if step_s <= 0:
        raise ValueError("step must be positive")
    # Default end: the last complete step (the current one may still miss a scrape).
    end_s = _align(end.replace(tzinfo=end.tzinfo or UTC).timestamp(), step_s) if end else \
        _align(datetime.now(UTC).timestamp(), step_s) - step_s
    default_start = end_s - parse_duration(cfg.prometheus.window, "prometheus.window")
    checkpoints = dict(con.execute(
        "SELECT query_name, last_ts FROM raw_prom_checkpoints WHERE source_url = ?", [source]).fetchall())

    t0 = time.perf_counter()
    fetched: list[tuple[Query, list[dict]]] = []
    with connect_prometheus(url, cfg) as pc:
        for q in queries(cfg):
            if start is not None:
                q_start = start.replace(tzinfo=start.tzinfo or UTC).timestamp()
            elif q.name in checkpoints:
                q_start = checkpoints[q.name].replace(tzinfo=UTC).timestamp() + step_s
            else:
                q_start = default_start
            q_start = _align(q_start, step_s)
            if q_start > end_s:
                continue  # already collected up to `end`
            log.info("prometheus %s: %s from %s to %s step %gs", source, q.name, _to_utc(q_start), _to_utc(end_s),
                     step_s)
            try:
                fetched.append((q, _fetch(pc, source, q, q_start, end_s, step_s, cfg.prometheus.timeout_s)))
            except CollectorError as exc:
                log.error("memlens collect prometheus: %s (warehouse unchanged)", exc)
                raise
    fetch_seconds = time.perf_counter() - t0

    with collection_run(con, SOURCE, source) as book:
        result = book.result
        now = utcnow()
        batch = _columns(fetched, source, step_s, result.run_id, now)
        result.files_seen = len(fetched)
        before = con.execute("SELECT count(*) FROM raw_prom_samples").fetchone()[0]
        con.execute("BEGIN TRANSACTION")
        if batch.num_rows:
            con.register("prom_batch", batch)
            con.execute("INSERT OR IGNORE INTO raw_prom_samples BY NAME SELECT * FROM prom_batch")
            con.unregister("prom_batch")
        for q, _ in fetched:  # a backfill of an older range never moves a checkpoint back
            con.execute(
                "INSERT INTO raw_prom_checkpoints VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "last_ts = greatest(last_ts, excluded.last_ts), step_seconds = excluded.step_seconds, "
                "updated_at = excluded.updated_at",
                [source, q.name, _to_utc(end_s), step_s, now],
            )
        con.execute("COMMIT")
        loaded = con.execute("SELECT count(*) FROM raw_prom_samples").fetchone()[0] - before
        result.rows_loaded = loaded
        result.rows_duplicate = batch.num_rows - loaded
        series = sum(len(s) for _, s in fetched)
        result.messages.append(f"{len(fetched)} queries, {series} series from {source} "
                               f"(fetch {fetch_seconds:.2f} s, step {step_s:g} s, up to {_to_utc(end_s)} UTC)")
    return result
