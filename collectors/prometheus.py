"""Prometheus collector: memlens range queries → raw_prom_samples (`memlens collect prometheus`).

Fetch, then store. Every query is fetched first, each answer turned at once into compact columns and spooled to
a temporary Parquet file (memory stays bounded by one answer, whatever the range: `collectors/prom_client.py`
chunks ranges and enforces a wall-clock deadline per request and per run). A Prometheus that is down, slow,
refuses the credentials or rejects a query gives one clear CollectorError and leaves the warehouse exactly as it
was; the CLI does not even hold the warehouse while fetching (`collect_prometheus_into`). Then one transaction
upserts the points (primary key source_url, query_name, labels, ts) and moves the per-query checkpoints.

Late points: Prometheus may receive a sample seconds or minutes after its timestamp (remote write, slow scrapes,
rule evaluation), so each run re-fetches prometheus.lookback before its checkpoint; points that arrived since fill
their gap, values computed from more samples replace the earlier ones (upsert: re-collecting stays idempotent).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from memlens.alerts import promql
from memlens.collectors.base import CollectorError, IngestResult, collection_run, collection_warehouse, utcnow
from memlens.collectors.prom_client import PromClient, endpoint
from memlens.config import Config

log = logging.getLogger(__name__)

SOURCE = "prometheus"
MAX_POINTS = 10_000  # Prometheus refuses more than 11,000 points per series in one range query
MAX_ANSWER_POINTS = 200_000  # an answer with more points (many series) halves the steps asked per request
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


def client(url: str, cfg: Config, run_deadline: float) -> PromClient:
    p = cfg.prometheus
    headers = _headers(cfg)
    ep = endpoint(url, public_url(url), headers["Authorization"] if headers else None, p.verify_tls)
    return PromClient(ep, p.timeout_s, p.retries, run_deadline, p.deadline_s)


def _to_utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


def _align(ts: float, step: float) -> float:
    """Floor to the step grid, so every run evaluates at the same instants (idempotent keys)."""
    return math.floor(ts / step) * step


_DICT = pa.dictionary(pa.int32(), pa.string())
SPOOL_SCHEMA = pa.schema([("query_name", _DICT), ("labels", _DICT), ("service", _DICT), ("op", _DICT),
                          ("ts", pa.timestamp("us")), ("value", pa.float64())])


def _answer_table(name: str, series: list[dict]) -> tuple[pa.Table, int]:
    """The finite points of one answer as compact columns (the per-series text dictionary-encoded: 4 bytes a point
    instead of the labels' text), and the number of points received."""
    keys, services, ops, stamps, values, index = [], [], [], [], [], []
    received = 0
    for i, s in enumerate(series):
        labels = dict(s.get("metric", {}))
        keys.append(json.dumps(labels, sort_keys=True, separators=(",", ":")))
        services.append(labels.get("service"))
        ops.append(labels.get("op"))
        points = np.array(s.get("values", []), dtype=float).reshape(-1, 2)  # Prometheus sends values as text
        received += len(points)
        points = points[np.isfinite(points[:, 1])]
        stamps.append(points[:, 0])
        values.append(points[:, 1])
        index.append(np.full(len(points), i, np.int32))
    idx = np.concatenate(index) if index else np.array([], np.int32)
    ts = np.concatenate(stamps) if stamps else np.array([], dtype=float)

    def column(per_series: list[str | None]) -> pa.DictionaryArray:
        """Per-point codes into the distinct texts of the series; a series without the label gives nulls."""
        texts = sorted({t for t in per_series if t is not None})
        codes = np.array([texts.index(t) if t is not None else -1 for t in per_series] or [0], np.int32)[idx]
        return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32(), mask=codes < 0), pa.array(texts, pa.string()))

    return pa.table({
        "query_name": pa.DictionaryArray.from_arrays(pa.array(np.zeros(len(ts), np.int32)), pa.array([name])),
        "labels": column(keys), "service": column(services), "op": column(ops),
        "ts": pa.array(np.round(ts * 1e6).astype("int64"), pa.timestamp("us")),
        "value": pa.array(np.concatenate(values) if values else [], pa.float64()),
    }, schema=SPOOL_SCHEMA), received


@dataclass
class Fetched:
    """What a fetch brought: the spool file of points, the queries answered (for their checkpoints), counts."""
    spool: Path
    source: str
    step_s: float
    end_s: float
    answered: dict[str, float] = field(default_factory=dict)  # query name -> start of the range fetched
    series: int = 0
    points: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Plan:
    """Which range each query needs: [start, end] on the step grid, per query name."""
    source: str
    step_s: float
    end_s: float
    ranges: dict[str, float]  # query name -> start


def plan(checkpoints: dict[str, datetime], source: str, cfg: Config, start: datetime | None = None,
         end: datetime | None = None, step: str | float | None = None) -> Plan:
    """`start`/`end` are UTC datetimes (naive = UTC). Without `start`, each query resumes prometheus.lookback
    before its checkpoint (late points), or covers `prometheus.window` back from `end` (default: the last complete
    step). `step` defaults to `prometheus.step`."""
    step_s = parse_duration(str(step if step is not None else cfg.prometheus.step), "step")
    if step_s <= 0:
        raise ValueError("step must be positive")
    end_s = _align(end.replace(tzinfo=end.tzinfo or UTC).timestamp(), step_s) if end else \
        _align(datetime.now(UTC).timestamp(), step_s) - step_s
    default_start = end_s - parse_duration(cfg.prometheus.window, "prometheus.window")
    lookback = parse_duration(cfg.prometheus.lookback, "prometheus.lookback")
    ranges = {}
    for q in queries(cfg):
        if start is not None:
            q_start = start.replace(tzinfo=start.tzinfo or UTC).timestamp()
        elif q.name in checkpoints:
            q_start = checkpoints[q.name].replace(tzinfo=UTC).timestamp() + step_s - lookback
        else:
            q_start = default_start
        q_start = _align(q_start, step_s)
        if q_start <= end_s:
            ranges[q.name] = q_start
    return Plan(source, step_s, end_s, ranges)


def read_checkpoints(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, datetime]:
    return dict(con.execute("SELECT query_name, last_ts FROM raw_prom_checkpoints WHERE source_url = ?",
                            [source]).fetchall())


def fetch(url: str, cfg: Config, p: Plan, spool_dir: Path) -> Fetched:
    """Every planned range, chunked, into `spool_dir`/points.parquet. Errors (and running out of time) raise
    CollectorError; nothing outside the spool is written."""
    t0 = time.monotonic()
    pc = client(url, cfg, t0 + cfg.prometheus.deadline_s)
    out = Fetched(spool_dir / "points.parquet", p.source, p.step_s, p.end_s)
    by_name = {q.name: q for q in queries(cfg)}
    with pq.ParquetWriter(out.spool, SPOOL_SCHEMA) as writer:
        for name, q_start in p.ranges.items():
            q = by_name[name]
            log.info("prometheus %s: %s from %s to %s step %gs", p.source, name, _to_utc(q_start), _to_utc(p.end_s),
                     p.step_s)
            try:
                _fetch_query(pc, q, q_start, p.end_s, p.step_s, writer, out)
            except CollectorError as exc:
                log.error("memlens collect prometheus: %s (warehouse unchanged)", exc)
                raise
            out.answered[name] = q_start
    out.seconds = time.monotonic() - t0
    return out


def _fetch_query(pc: PromClient, q: Query, start: float, end: float, step: float, writer: pq.ParquetWriter,
                 out: Fetched) -> None:
    """One query over [start, end], in chunks Prometheus accepts, each answer spooled as soon as it arrives."""
    steps = MAX_POINTS
    t = start
    series: set[str] = set()
    while t <= end:
        t_end = min(end, t + (steps - 1) * step)
        answer = pc.query_range(q.name, q.expr, t, t_end, step)
        table, received = _answer_table(q.name, answer)
        if table.num_rows:
            writer.write_table(table)
        out.points += table.num_rows
        series.update(json.dumps(s.get("metric", {}), sort_keys=True) for s in answer)
        del answer, table
        if received > MAX_ANSWER_POINTS and steps > 1:  # many series: ask for shorter ranges
            steps = max(1, steps // 2)
        t = t_end + step
    out.series += len(series)


def store(con: duckdb.DuckDBPyConnection, got: Fetched) -> IngestResult:
    """One transaction: each range fetched replaces what the warehouse held for it (so a point that arrived late
    lands, a value computed from more samples replaces the earlier one, and re-collecting adds nothing), then the
    checkpoints of the queries answered move."""
    with collection_run(con, SOURCE, got.source) as book:
        result = book.result
        now = utcnow()
        result.files_seen = len(got.answered)
        con.execute("BEGIN TRANSACTION")
        try:
            con.register("prom_ranges", pa.table({
                "query_name": list(got.answered), "start_ts": pa.array(
                    [_to_utc(s) for s in got.answered.values()], pa.timestamp("us"))}))
            [(held,)] = con.execute(
                "SELECT count(*) FROM raw_prom_samples s JOIN prom_ranges r USING (query_name) "
                "WHERE s.source_url = ? AND s.ts BETWEEN r.start_ts AND ?", [got.source, _to_utc(got.end_s)]).fetchall()
            con.execute(
                "DELETE FROM raw_prom_samples s USING prom_ranges r WHERE s.source_url = ? AND s.query_name = "
                "r.query_name AND s.ts BETWEEN r.start_ts AND ?", [got.source, _to_utc(got.end_s)])
            if got.points:
                con.execute(
                    "INSERT INTO raw_prom_samples SELECT ?, query_name, labels, service, op, ts, value, ?, ?, ? "
                    "FROM read_parquet(?)", [got.source, got.step_s, result.run_id, now, str(got.spool)])
            for name in got.answered:  # a backfill of an older range never moves a checkpoint back
                con.execute(
                    "INSERT INTO raw_prom_checkpoints VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                    "last_ts = greatest(last_ts, excluded.last_ts), step_seconds = excluded.step_seconds, "
                    "updated_at = excluded.updated_at",
                    [got.source, name, _to_utc(got.end_s), got.step_s, now],
                )
            con.execute("COMMIT")
        except BaseException:
            with suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        finally:
            con.unregister("prom_ranges")
        # Points in the warehouse already (fetched again, maybe with a revised value) count as duplicates.
        result.rows_loaded = max(0, got.points - held)
        result.rows_duplicate = got.points - result.rows_loaded
        result.messages.append(f"{len(got.answered)} queries, {got.series} series from {got.source} "
                               f"(fetch {got.seconds:.2f} s, step {got.step_s:g} s, up to {_to_utc(got.end_s)} UTC)")
    return result


@contextmanager
def _spool() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="memlens-prom-") as tmp:
        yield Path(tmp)


def collect_prometheus(con: duckdb.DuckDBPyConnection, url: str | None, cfg: Config,
                       start: datetime | None = None, end: datetime | None = None,
                       step: str | float | None = None) -> IngestResult:
    """Range-query the memlens metrics into raw_prom_samples, on an open warehouse (see the module docstring)."""
    url = (url or cfg.prometheus.url).rstrip("/")
    p = plan(read_checkpoints(con, public_url(url)), public_url(url), cfg, start, end, step)
    with _spool() as tmp:
        return store(con, fetch(url, cfg, p, tmp))


def collect_prometheus_into(path: Path, url: str | None, cfg: Config, start: datetime | None = None,
                            end: datetime | None = None, step: str | float | None = None) -> IngestResult:
    """The same into the warehouse file at `path`, holding it only to read the checkpoints and to store: the fetch,
    however slow, never keeps another collection, a page render or `memlens query` out."""
    url = (url or cfg.prometheus.url).rstrip("/")
    source = public_url(url)
    with collection_warehouse(path, cfg, "memlens collect prometheus (reading checkpoints)") as con:
        checkpoints = read_checkpoints(con, source)
    p = plan(checkpoints, source, cfg, start, end, step)
    with _spool() as tmp:
        got = fetch(url, cfg, p, tmp)
        with collection_warehouse(path, cfg, "memlens collect prometheus") as con:
            return store(con, got)
