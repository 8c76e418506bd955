"""A slow, late or huge Prometheus (issue 12 #3, #4, #8, #13) degrades one collection and never the warehouse: a
wall-clock deadline per request and per run, the warehouse held only to read checkpoints and to store (never while
fetching), late points re-fetched through a lookback window, answers spooled (memory bounded by one answer), and a
collection that meets a page render waits for it like `collect logs` does.

Prometheus is the local stand-in tests/fake_prometheus.py (stdlib HTTP server on 127.0.0.1): its `drip` mode sends
the answer one byte every 0.5 s (status line and headers included), `received_until` leaves out points that have not
reached it yet. Every warehouse use around it is a real `memlens` process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fake_prometheus import serve_fake_prometheus
from reliability_support import write_events

from memlens.collectors.base import CollectorError
from memlens.collectors.prometheus import collect_prometheus, queries
from memlens.config import load_config
from memlens.warehouse import connect

CLI = [sys.executable, "-m", "memlens.cli"]
END = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _cfg_file(tmp: Path, **prom) -> Path:
    f = tmp / f"cfg-{len(list(tmp.glob('cfg-*')))}.yaml"
    lines = ["prometheus:", *(f"  {k}: {v}" for k, v in prom.items()), "collector:", "  warehouse_wait_seconds: 30"]
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f


def _env(tmp: Path) -> dict:
    return dict(os.environ, MEMLENS_HOME=str(tmp / "home"))


def test_a_drip_feeding_prometheus_is_cut_at_the_request_deadline(tmp_path):
    """1 byte every 0.5 s with timeout_s 1, retries 0: the CLI stops after about two bytes with one line, exit 1,
    nothing stored (it was still reading after 40 s: the timeout applied to each read, not to the request)."""
    with serve_fake_prometheus("drip") as (server, url):
        wh = tmp_path / "wh.duckdb"
        out = subprocess.run([*CLI, "collect", "prometheus", "--url", url, "--warehouse", str(wh), "--config",
                              str(_cfg_file(tmp_path, timeout_s=1, retries=0))],
                             capture_output=True, text=True, timeout=120, env=_env(tmp_path))
        calls = server.calls
    assert out.returncode == 1, out.stderr
    assert out.stderr.strip().splitlines() == [
        f"memlens collect prometheus: Prometheus at {url} did not answer query latency_p50_seconds within 1 s "
        "(prometheus.timeout_s)"]
    assert calls == 1  # not retried, the other queries not even asked
    con = connect(wh)
    try:
        assert con.execute("SELECT count(*) FROM raw_prom_samples").fetchone()[0] == 0
    finally:
        con.close()


def test_the_run_deadline_bounds_the_whole_collection(tmp_path):
    """The first query is answered at once, the second after 10 minutes (under timeout_s 3600); the run may take
    10 s: the second query is cut by the run's deadline, nothing is stored, the message names
    prometheus.deadline_s. (Which query is cut does not depend on the machine's speed.)"""
    cfg = load_config(overrides={"prometheus": {"timeout_s": 3600, "retries": 0, "deadline_s": 10}})
    with serve_fake_prometheus("slow") as (server, url):
        server.slow_s, server.slow_from_call = 600, 2
        con = connect(":memory:")
        with pytest.raises(CollectorError, match=r"the collection ran out of time \(10 s, prometheus\.deadline_s\) "
                                                 r"during query latency_p95_seconds; nothing was stored"):
            collect_prometheus(con, url, cfg, end=END)
        assert server.calls == 2
    assert con.execute("SELECT count(*) FROM raw_prom_samples").fetchone()[0] == 0


def test_a_slow_prometheus_holds_no_lock_while_it_is_fetched(tmp_path):
    """While `collect prometheus` waits for a drip-feeding Prometheus (timeout_s 120), `collect logs` and
    `memlens query` on the same warehouse run normally (they failed: the fetch held the warehouse for writing).
    Then the Prometheus collection is stopped (SIGTERM)."""
    wh = tmp_path / "wh.duckdb"
    log = write_events(tmp_path / "logs" / "a.jsonl", 40, seed=1700)
    with serve_fake_prometheus("drip") as (server, url):
        prom = subprocess.Popen([*CLI, "collect", "prometheus", "--url", url, "--warehouse", str(wh), "--config",
                                 str(_cfg_file(tmp_path, timeout_s=120, retries=0))],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path))
        try:
            while server.calls == 0 and prom.poll() is None:  # it is fetching now
                time.sleep(0.05)
            logs = subprocess.run([*CLI, "collect", "logs", "-q", str(log.parent), "--warehouse", str(wh)],
                                  capture_output=True, text=True, timeout=120, env=_env(tmp_path))
            query = subprocess.run([*CLI, "query", "stg_op_events", "--csv", "--warehouse", str(wh)],
                                   capture_output=True, text=True, timeout=120, env=_env(tmp_path))
            still_fetching = prom.poll() is None
        finally:
            prom.terminate()
            prom.communicate(timeout=120)
    assert still_fetching, "the Prometheus collection ended before the others ran: nothing was tested"
    assert logs.returncode == 0 and "40 loaded" in logs.stdout, logs.stderr
    assert query.returncode == 0 and query.stdout.count("\n") == 41, query.stderr


def test_late_points_land_through_the_lookback(tmp_path):
    """Points of the last 5 minutes have not reached Prometheus when a collection runs (ingestion lag); the
    checkpoint moves to the end anyway. They arrive; the next run re-fetches prometheus.lookback (10 m) before its
    checkpoint: the gap is filled, nothing is doubled, and a third run adds nothing."""
    cfg = load_config(overrides={"prometheus": {"timeout_s": 3600, "retries": 0, "window": "30m", "step": "60s"}})
    n = len(queries(cfg))
    with serve_fake_prometheus("ok") as (server, url):
        con = connect(":memory:")
        server.odd_points = False
        server.received_until = (END - timedelta(minutes=5)).timestamp()
        first = collect_prometheus(con, url, cfg, end=END)
        assert first.rows_loaded == (31 - 5) * n  # 31 steps in the 30 minutes; the last 5 not received yet
        server.received_until = None
        second = collect_prometheus(con, url, cfg, end=END + timedelta(minutes=2))
        again = collect_prometheus(con, url, cfg, end=END + timedelta(minutes=2))
    assert (second.rows_loaded, again.rows_loaded) == ((5 + 2) * n, 0)
    per_query = con.execute("SELECT query_name, count(*), count(DISTINCT (labels, ts)), min(ts), max(ts) "
                            "FROM raw_prom_samples GROUP BY 1").fetchall()
    assert len(per_query) == n
    first_ts, last_ts = (END - timedelta(minutes=30)).replace(tzinfo=None), (END + timedelta(minutes=2)).replace(
        tzinfo=None)
    assert {(c, d, lo, hi) for _, c, d, lo, hi in per_query} == {(33, 33, first_ts, last_ts)}  # no gap, no double


def test_collect_prometheus_waits_for_a_page_render(tmp_path):
    """A dashboard render holds the file (a read-only DuckDB connection in another process) for 2 s: `collect
    prometheus` waits for it, like `collect logs`, and stores (it failed at once with a traceback)."""
    wh = tmp_path / "wh.duckdb"
    connect(wh).close()
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time\n"
                               f"con = duckdb.connect({str(wh)!r}, read_only=True)\n"
                               "print('held', flush=True); time.sleep(2); con.close()"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with serve_fake_prometheus("ok") as (_, url):
            out = subprocess.run([*CLI, "collect", "prometheus", "--url", url, "--warehouse", str(wh), "--config",
                                  str(_cfg_file(tmp_path, timeout_s=5, retries=0, window="10m"))],
                                 capture_output=True, text=True, timeout=120, env=_env(tmp_path))
    finally:
        holder.wait(timeout=60)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert " loaded" in out.stdout


def test_query_waits_for_a_collection_then_says_who_holds_the_warehouse(tmp_path):
    """`memlens query` while a collection writes (another process holding the writer lock and the file): it waits
    and answers once the file is free; when the wait runs out (warehouse_wait_seconds 1), one line names the
    collection holding it (it was a traceback)."""
    wh = tmp_path / "wh.duckdb"
    con = connect(wh)
    con.close()
    hold = ("import sys, time\nfrom pathlib import Path\nfrom memlens.collectors.base import writer_lock\n"
            "from memlens.warehouse import connect\n"
            f"with writer_lock(Path({str(wh)!r}), 'memlens collect logs'):\n"
            f"    con = connect({str(wh)!r})\n    print('held', flush=True)\n    time.sleep(float(sys.argv[1]))\n"
            "    con.close()")
    short_wait = tmp_path / "short.yaml"
    short_wait.write_text("collector:\n  warehouse_wait_seconds: 1\n", encoding="utf-8")
    for seconds, cfg in (("2", None), ("30", short_wait)):
        holder = subprocess.Popen([sys.executable, "-c", hold, seconds], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "held"
            out = subprocess.run([*CLI, "query", "stg_op_events", "--warehouse", str(wh),
                                  *(["--config", str(cfg)] if cfg else [])],
                                 capture_output=True, text=True, timeout=120, env=_env(tmp_path))
        finally:
            holder.kill()
            holder.wait(timeout=60)
        assert "Traceback" not in out.stderr, out.stderr
        if cfg is None:
            assert out.returncode == 0 and "no rows" in out.stdout
        else:
            assert out.returncode == 2
            assert out.stderr.strip().splitlines() == [
                f"memlens: warehouse {wh} is busy: a collection (pid {holder.pid}, memlens collect logs, since "
                + out.stderr.split(", since ")[1].split(")")[0] + ") is writing to it (waited 1 s); try again when "
                "it finishes"]


def test_a_huge_answer_is_spooled_not_held(tmp_path):
    """The default config's queries (16) x 150,000 points (2.4M) at 1 s steps, in a process of its own: the resident
    memory the collection adds stays far below what holding the points as Python objects took (about 450 bytes a
    point before: ~1 GB here), because each answer is spooled to disk as it arrives and the store streams it.
    (Request limits beyond any load: the test is about memory.)"""
    script = (
        "import json, sys\nsys.path.insert(0, sys.argv[3])\n"
        "from datetime import UTC, datetime, timedelta\nfrom pathlib import Path\n"
        "from memlens.collectors.prometheus import collect_prometheus\nfrom memlens.config import load_config\n"
        "from memlens.warehouse import connect\n"
        "con = connect(Path(sys.argv[1]) / 'wh.duckdb')\n"
        "rss = lambda: int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20\n"
        "base = rss()\nend = datetime(2026, 11, 1, tzinfo=UTC)\n"
        "cfg = load_config(overrides={'prometheus': {'timeout_s': 3600, 'deadline_s': 36000}})\n"
        "r = collect_prometheus(con, sys.argv[2], cfg, start=end - timedelta(seconds=149_999), end=end, step='1s')\n"
        # VmHWM: the peak of this program's memory (ru_maxrss would keep the forked parent's size)
        "hwm = [int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM')][0] / 1024\n"
        "print(json.dumps({'loaded': r.rows_loaded, 'added_mb': hwm - base}))\n")
    with serve_fake_prometheus("ok") as (_, url):
        out = subprocess.run([sys.executable, "-c", script, str(tmp_path), url, str(Path(__file__).parent)],
                             capture_output=True, text=True, timeout=600, env=_env(tmp_path))
    assert out.returncode == 0, out.stderr[-2000:]
    got = __import__("json").loads(out.stdout.strip().splitlines()[-1])
    n_queries = len(queries(load_config()))
    assert got["loaded"] == n_queries * (150_000 - 2 * 15)  # NaN and +Inf: 2 in each answer of 10,000 points
    assert got["added_mb"] < 350, got
