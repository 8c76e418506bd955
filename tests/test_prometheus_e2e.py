"""End to end with the real tools: a real Prometheus scrapes a real instrumented Mem0 process.

The worker (tests/prom_e2e_worker.py) runs real offline mem0 operations through `instrument()` with an
op log and MemlensMetrics on /metrics. Prometheus (Debian binary, 127.0.0.1, free port, temp data dir,
1 s scrape and rule evaluation) loads the generated rule file. Then:
- `collect_prometheus` pulls the series into DuckDB (and again: idempotent), `collect_oplogs` the log;
- per operation, the call counts in Prometheus equal the op log's exactly, and the P95/P99 that
  Prometheus computes from the histogram agree with the op log's exact percentiles within the width
  of the histogram bucket holding the estimate: the bucket counts are exact (every series is scraped
  at zero before the first call and after the last), so the only error left is histogram_quantile's
  linear interpolation inside one bucket, at most that bucket's width;
- every dashboard query and every recording rule returns data from this Prometheus, and every metric
  the dashboard uses is in a live /metrics scrape (with the contract's bucket bounds).
"""

from __future__ import annotations

import math
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import requests
from prom_support import free_port, prometheus
from prometheus_api_client import PrometheusConnect
from prometheus_client.utils import floatToGoString

from memlens.alerts import promql
from memlens.alerts.grafana import expressions, render_dashboard
from memlens.alerts.rules import render_rules, rule_groups
from memlens.collectors.oplog import collect_oplogs
from memlens.collectors.prometheus import collect_prometheus
from memlens.config import load_config
from memlens.schema import PHASES
from memlens.warehouse import connect

pytestmark = [
    pytest.mark.prometheus,
    pytest.mark.mem0,
    pytest.mark.timeout(600),
    pytest.mark.skipif(shutil.which("prometheus") is None,
                       reason="Debian prometheus not installed; scripts/test.sh installs it"),
]

WORKER = Path(__file__).with_name("prom_e2e_worker.py")
SERVICE = "e2e-mem0"
MIN_SECONDS, MAX_SECONDS = 15, 200  # at least 25 searches and 25 adds, within the 5 m rate window
BOUNDS = (0.0, *promql.DURATION_BUCKETS_S, math.inf)


def _lines(stream, out: queue.Queue) -> None:
    for line in stream:
        out.put(line.rstrip("\n"))


def _wait_line(lines: queue.Queue, prefix: str, timeout: float, proc: subprocess.Popen, err: Path) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if proc.poll() is not None:
                tail = err.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"worker exited with {proc.returncode} before {prefix}:\n{tail}") from None
            continue
        if line.startswith(prefix):
            return line
    raise TimeoutError(f"worker did not print {prefix} within {timeout:g} s")


def _instant(pc: PrometheusConnect, expr: str, at: float) -> list[dict]:
    return pc.custom_query(expr, params={"time": at})


def _scraped_to_the_last_call(pc: PrometheusConnect, ops: int) -> datetime:
    """The first whole second at which Prometheus holds a scrape taken after the worker's last call: waits for the
    condition (every call counted and observed), not for a fixed time, which a loaded machine can outlast."""
    exprs = [f'sum(memlens_mem0_operations_total{{service="{SERVICE}"}})',
             f'sum({promql.DURATION}_count{{service="{SERVICE}"}})']
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = time.time()
        if all(r and float(r[0]["value"][1]) == ops for r in (_instant(pc, e, now) for e in exprs)):
            end = math.ceil(now)
            while time.time() < end:  # the range queries end at `end`: not in the future
                time.sleep(0.1)
            return datetime.fromtimestamp(end, UTC)
        time.sleep(0.5)
    raise TimeoutError(f"Prometheus did not scrape all {ops} calls within 120 s")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Worker + Prometheus; yields everything the tests need after the workload has finished."""
    tmp = tmp_path_factory.mktemp("prom-e2e")
    cfg = load_config(None)
    rules = tmp / "alert-rules.yaml"
    rules.write_text(render_rules(cfg), encoding="utf-8")
    port = free_port()
    log_dir = tmp / "oplogs"
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), str(port), str(log_dir), str(tmp / "mem0"), str(MIN_SECONDS), str(MAX_SECONDS)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=(tmp / "worker.err").open("wb"), text=True)
    err = tmp / "worker.err"
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(worker.stdout, lines), daemon=True).start()
    try:
        _wait_line(lines, "READY", 240, worker, err)
        with prometheus(tmp, [f"127.0.0.1:{port}"], [rules]) as url:
            pc = PrometheusConnect(url)
            # Let Prometheus scrape the zero-valued series before the first call.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                seen = _instant(pc, 'count_over_time(memlens_mem0_operations_total{op="search",status="ok"}[1m])',
                                time.time())
                if seen and float(seen[0]["value"][1]) >= 2:
                    break
                time.sleep(0.5)
            else:
                raise TimeoutError("Prometheus did not scrape the worker")
            start = datetime.now(UTC)
            worker.stdin.write("go\n")
            worker.stdin.flush()
            done = _wait_line(lines, "DONE", MAX_SECONDS + 120, worker, err)
            end = _scraped_to_the_last_call(pc, int(done.split()[1]))
            metrics_text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            yield {"cfg": cfg, "url": url, "pc": pc, "start": start, "end": end, "log_dir": log_dir,
                   "ops": int(done.split()[1]), "tmp": tmp, "metrics_text": metrics_text}
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


@pytest.fixture(scope="module")
def warehouse(run):
    con = connect(run["tmp"] / "warehouse.duckdb", run["cfg"])
    loaded = collect_oplogs(con, [run["log_dir"]], run["cfg"])
    assert loaded.rows_loaded == run["ops"]
    yield con
    con.close()


def test_collector_pulls_the_run_into_duckdb_idempotently(run, warehouse):
    cfg, start, end = run["cfg"], run["start"], run["end"]
    assert (end - start).total_seconds() < 290  # the 5 m rate window at `end` spans the whole run
    first = collect_prometheus(warehouse, run["url"], cfg, start=start, end=end, step="1s")
    assert first.rows_loaded > 0 and first.rows_duplicate == 0
    again = collect_prometheus(warehouse, run["url"], cfg, start=start, end=end, step="1s")
    assert again.rows_loaded == 0 and again.rows_duplicate == first.rows_loaded
    resumed = collect_prometheus(warehouse, run["url"], cfg, end=end, step="1s")  # checkpoint = end: nothing new
    assert resumed.rows_loaded == 0
    names = {r[0] for r in warehouse.execute("SELECT DISTINCT query_name FROM raw_prom_samples").fetchall()}
    assert {"latency_p95_seconds", "latency_p99_seconds", "ops_per_second", "error_ratio", "cache_hit_ratio",
            "tokens_per_second", "cost_usd_per_second", "memory_changes_per_second", "process_cpu_cores",
            "process_resident_memory_bytes"} <= names
    rss = warehouse.execute("SELECT max(value) FROM raw_prom_samples "
                            "WHERE query_name = 'process_resident_memory_bytes'").fetchone()[0]
    assert rss > 100e6  # a process holding torch and MiniLM


def test_counts_match_the_op_log_exactly(run, warehouse):
    at = run["end"].timestamp()
    prom = {r["metric"]["op"]: float(r["value"][1]) for r in _instant(
        run["pc"], f'sum by (op) (memlens_mem0_operations_total{{service="{SERVICE}"}})', at)}
    log = dict(warehouse.execute("SELECT op, count(*) FROM raw_op_events WHERE service = ? GROUP BY op",
                                 [SERVICE]).fetchall())
    assert {op: n for op, n in prom.items() if n} == {op: float(n) for op, n in log.items()}
    assert log["search"] >= 20 and log["add"] >= 10, log


def test_histogram_buckets_match_the_op_log_exactly(run, warehouse):
    """Per op and bucket bound, the cumulative count in Prometheus = op-log calls with latency <= le."""
    at = run["end"].timestamp()
    prom = {(r["metric"]["op"], r["metric"]["le"]): float(r["value"][1]) for r in _instant(
        run["pc"], f'sum by (op, le) ({promql.DURATION}_bucket{{service="{SERVICE}"}})', at)}
    latencies: dict[str, list[float]] = {}
    for op, ms in warehouse.execute("SELECT op, latency_ms FROM raw_op_events WHERE service = ?",
                                    [SERVICE]).fetchall():
        latencies.setdefault(op, []).append(ms / 1000)  # the value the instrumentation observed
    for op, values in latencies.items():
        for bound in (*promql.DURATION_BUCKETS_S, math.inf):
            assert prom[(op, floatToGoString(bound))] == sum(v <= bound for v in values), (op, bound)


def test_phase_histogram_matches_the_op_log_exactly(run, warehouse):
    """Per op and phase: Prometheus counts one observation per call that ran the phase and sums its seconds,
    exactly the op log's `<phase>_ms` fields; the collector brings the phase series back into metric_prom_phases."""
    at = run["end"].timestamp()
    prom = {(r["metric"]["op"], r["metric"]["phase"], kind): float(r["value"][1])
            for kind in ("count", "sum") for r in _instant(
                run["pc"], f'sum by (op, phase) ({promql.PHASE_DURATION}_{kind}{{service="{SERVICE}"}})', at)}
    expected = {}
    for phase in PHASES:
        for op, n, total in warehouse.execute(
                f"SELECT op, count({phase}_ms), sum({phase}_ms) FROM raw_op_events WHERE service = ? "
                f"AND {phase}_ms IS NOT NULL GROUP BY op", [SERVICE]).fetchall():
            expected[(op, phase, "count")] = float(n)
            expected[(op, phase, "sum")] = total / 1000
    assert {k for k, v in prom.items() if v} == set(expected)
    for key, value in expected.items():
        assert prom[key] == pytest.approx(value, rel=1e-9), key
    assert {("search", "embedding"), ("search", "vector_search"), ("add", "embedding"), ("add", "vector_write"),
            ("add", "history")} <= {(op, phase) for op, phase, _ in expected}
    collect_prometheus(warehouse, run["url"], run["cfg"], start=run["start"], end=run["end"], step="1s")
    seen = warehouse.execute("SELECT DISTINCT op, phase FROM metric_prom_phases WHERE service = ? "
                             "AND seconds_per_s > 0 AND hist_p95_ms > 0", [SERVICE]).fetchall()
    assert ("search", "embedding") in seen and ("add", "history") in seen


def _histogram_quantile_answers(q: float, latencies_s: list[float]) -> tuple[list[float], tuple[float, float]]:
    """What Prometheus's histogram_quantile(q, ...) returns for these observations, computed by hand from the exact
    bucket counts (the bucket test above proves Prometheus holds these counts): rank = q x n, the first bucket whose
    cumulative count reaches the rank, linear interpolation inside it (the +Inf bucket answers the highest finite
    bound). Every bucket's rate is the same count times the same extrapolation factor, which cancels out, except in
    one case: when q x n is exactly a cumulative count, float noise in that factor decides whether the rank reaches
    that bucket (answer: its upper bound) or falls just past it (answer: the lower bound of the next bucket holding
    an observation). Both answers are returned then (the exact one first), with the bounds of the exact one's
    bucket; the test must not depend on a last-bit rounding."""
    rank = Fraction(str(q)) * len(latencies_s)
    cum = [sum(v <= bound for v in latencies_s) for bound in BOUNDS[1:]]  # per upper bound, +Inf last

    def answer(b: int) -> float:
        if b == len(cum) - 1:
            return BOUNDS[-2]
        start, prev = (BOUNDS[b], cum[b - 1]) if b > 0 else (0.0, 0)
        return start + (BOUNDS[b + 1] - start) * float((rank - prev) / (cum[b] - prev))

    b = next(b for b, c in enumerate(cum) if c >= rank)
    answers = [answer(b)]
    if rank in cum:  # rank exactly on a bucket's cumulative count: the float-noise alternative
        answers.append(answer(next(b for b, c in enumerate(cum) if c > rank)))
    return answers, (BOUNDS[b], BOUNDS[b + 1])


def test_p95_p99_are_prometheus_histogram_quantile_of_the_op_log(run, warehouse):
    """The P95/P99 the collector stored from Prometheus = histogram_quantile computed by hand over the op log's
    latencies (to float noise). The op log's nearest-rank percentile lies in the bucket of that answer, so the two
    agree within that bucket's width; numpy's linear percentile interpolates between two order statistics and can
    sit buckets away when the top observations are far apart, so both are printed, not asserted.
    """
    collect_prometheus(warehouse, run["url"], run["cfg"], start=run["start"], end=run["end"], step="1s")
    end = run["end"].replace(tzinfo=None)
    checked = 0
    for op, n in warehouse.execute("SELECT op, count(*) FROM raw_op_events WHERE service = ? GROUP BY op "
                                   "HAVING count(*) >= 20 ORDER BY op", [SERVICE]).fetchall():
        latencies = np.sort(np.array([r[0] for r in warehouse.execute(
            "SELECT latency_ms FROM raw_op_events WHERE service = ? AND op = ?", [SERVICE, op]).fetchall()]))
        for q, name in ((0.95, "p95_ms"), (0.99, "p99_ms")):
            nearest_rank_ms = float(latencies[math.ceil(q * n) - 1])
            linear_ms = float(np.percentile(latencies, q * 100))
            prom_ms = warehouse.execute(
                f"SELECT {name} FROM metric_prom_ops WHERE service = ? AND op = ? AND ts = ?",
                [SERVICE, op, end]).fetchone()[0]
            answers, (lo, hi) = _histogram_quantile_answers(q, [ms / 1000 for ms in latencies])
            answers_ms = [a * 1000 for a in answers]
            print(f"{op:8} n={n:4} P{q * 100:g}: prometheus {prom_ms:8.3f} ms, by hand {answers_ms}, op log "
                  f"nearest-rank {nearest_rank_ms:8.2f} ms (linear {linear_ms:8.2f})")
            # rel_tol: the stored value went through rate()'s float arithmetic and a seconds -> ms multiplication
            assert any(math.isclose(prom_ms, a, rel_tol=1e-9, abs_tol=1e-9) for a in answers_ms), (
                op, q, n, prom_ms, answers_ms)
            # the observation of rank ceil(q x n) is in the bucket the rank reaches (counted as the bucket test does)
            assert lo < nearest_rank_ms / 1000 <= hi, (op, q, nearest_rank_ms, (lo, hi))
            checked += 1
    assert checked >= 4  # add and search at least, P95 and P99 each


def test_every_dashboard_query_returns_data(run):
    at = run["end"].timestamp()
    dashboard = render_dashboard(run["cfg"])
    for expr in expressions(dashboard):
        live = expr.replace("$service", SERVICE).replace("$op", ".*").replace("$__rate_interval", "1m")
        result = _instant(run["pc"], live, at)
        assert result, f"no data for dashboard query:\n{expr}"
        assert all(math.isfinite(float(r["value"][1])) for r in result), expr
    # The variables' label_values() queries
    values = requests.get(f"{run['url']}/api/v1/label/service/values",
                          params={"match[]": promql.OPERATIONS}, timeout=10).json()["data"]
    assert SERVICE in values
    ops = requests.get(f"{run['url']}/api/v1/label/op/values",
                       params={"match[]": f'{promql.OPERATIONS}{{service="{SERVICE}"}}'}, timeout=10).json()["data"]
    assert {"add", "search", "update", "delete", "get_all"} <= set(ops)


def test_dashboard_metrics_exist_in_a_live_scrape(run):
    scraped = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{|\s)", run["metrics_text"], flags=re.M))
    used = {m for e in expressions(render_dashboard(run["cfg"])) for m in re.findall(r"\b(memlens_mem0_[a-z_]+)", e)}
    assert used <= scraped, used - scraped
    les = set(re.findall(rf'^{promql.DURATION}_bucket{{[^}}]*le="([^"]+)"', run["metrics_text"], flags=re.M))
    assert les == {floatToGoString(b) for b in (*promql.DURATION_BUCKETS_S, math.inf)}


def test_recording_rules_evaluate_with_data(run):
    rules = requests.get(f"{run['url']}/api/v1/rules", timeout=10).json()["data"]["groups"]
    health = {r["name"]: (r["health"], r.get("lastError", "")) for g in rules for r in g["rules"]}
    assert all(h == "ok" for h, _ in health.values()), {n: h for n, h in health.items() if h[0] != "ok"}
    names = [r["record"] for g in rule_groups(run["cfg"])["groups"] for r in g["rules"] if "record" in r]
    # Needs a week of history or a priced model: the growth-vs-last-week and the daily cost are absent/0 here.
    week_old = {"service:memlens_mem0_stored_memories:growth_ratio1w"}
    at = time.time()
    for name in names:
        if name in week_old:
            continue
        assert _instant(run["pc"], name, at), f"recording rule {name} has no data"
