"""Prometheus collector without a Prometheus binary: outages, timeouts, auth, partial failures.

`PromAPIStandIn` is a local HTTP stand-in for Prometheus's /api/v1/query_range (not Prometheus): it
records the requests and answers with canned JSON, delays, or errors. The real-server test is
tests/test_prometheus_e2e.py.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from prom_support import free_port

from memlens.collectors.base import CollectorError
from memlens.collectors.prometheus import collect_prometheus, parse_duration, public_url, queries
from memlens.config import load_config

END = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class PromAPIStandIn:
    """Answers query_range with one series per query (value = index of the query), or misbehaves."""

    def __init__(self, delay_s: float = 0.0, fail_after: int | None = None, status: int = 200) -> None:
        self.requests: list[tuple[dict[str, list[str]], dict[str, str]]] = []
        self.delay_s, self.fail_after, self.status = delay_s, fail_after, status
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                params = parse_qs(urlsplit(self.path).query)
                stand_in.requests.append((params, dict(self.headers)))
                time.sleep(stand_in.delay_s)
                n = len(stand_in.requests)
                if stand_in.status != 200 or (stand_in.fail_after is not None and n > stand_in.fail_after):
                    body = {"status": "error", "errorType": "bad_data", "error": "parse error"}
                    code = stand_in.status if stand_in.status != 200 else 400
                else:
                    start, end, step = (float(params[k][0]) for k in ("start", "end", "step"))
                    values = [[start + i * step, str(n)] for i in range(int((end - start) / step) + 1)]
                    values.append([end, "NaN"])  # idle histogram_quantile points are not stored
                    body = {"status": "success", "data": {"resultType": "matrix", "result": [
                        {"metric": {"service": "svc", "op": "search"}, "values": values}]}}
                    code = 200
                data = json.dumps(body).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def fingerprint(con) -> tuple:
    return tuple(con.execute(f"SELECT count(*), hash(list(t ORDER BY t)) FROM (SELECT CAST(x AS VARCHAR) AS t FROM {name} x)").fetchone()  # noqa: E501
                 for name in ("raw_prom_samples", "raw_prom_checkpoints", "raw_ingest_runs"))


@pytest.fixture
def cfg():
    # wall-clock limits far beyond any load: answering tests must not fail because the machine is busy; the tests
    # of the limits set their own
    return load_config(None, overrides={"prometheus": {"timeout_s": 3600, "deadline_s": 36000, "retries": 0,
                                                       "window": "10m", "step": "60s"}})


def test_collects_every_query_idempotently_and_incrementally(con, cfg):
    n_queries = len(queries(cfg))
    with PromAPIStandIn() as prom:
        first = collect_prometheus(con, prom.url, cfg, end=END)
        assert len(prom.requests) == n_queries
        # 10-minute window at 60 s, both ends included: 11 points per query; NaN points are skipped.
        assert first.rows_loaded == 11 * n_queries and first.rows_duplicate == 0
        again = collect_prometheus(con, prom.url, cfg, start=END - timedelta(minutes=10), end=END)
        assert again.rows_loaded == 0 and again.rows_duplicate == 11 * n_queries
        # Resumes at the checkpoint, minus prometheus.lookback (10 m): the 10 points before it are fetched again
        # (late points land; the same keys are upserted, not doubled), 3 are new.
        later = collect_prometheus(con, prom.url, cfg, end=END + timedelta(minutes=3))
        assert (later.rows_loaded, later.rows_duplicate) == (3 * n_queries, 10 * n_queries)
        start = float(prom.requests[-1][0]["start"][0])
        assert start == (END + timedelta(minutes=1) - timedelta(minutes=10)).timestamp()
    rows = con.execute("SELECT query_name, service, op, labels, count(*) FROM raw_prom_samples "
                       "WHERE query_name = 'latency_p95_seconds' GROUP BY ALL").fetchall()
    assert rows == [("latency_p95_seconds", "svc", "search", '{"op":"search","service":"svc"}', 14)]
    ops = con.execute("SELECT count(*), min(ts), max(ts) FROM metric_prom_ops").fetchone()
    assert ops == (14, (END - timedelta(minutes=10)).replace(tzinfo=None), (END + timedelta(minutes=3)).replace(
        tzinfo=None))


def test_long_ranges_are_split_and_backfill_keeps_the_checkpoint(con, cfg):
    """3 h at 1 s = 10,801 points per series: two range queries each (Prometheus caps a series at 11,000)."""
    # (the fixture's limits are beyond any load: 10,000 points of JSON took more than 0.5 s on a busy box)
    n_queries = len(queries(cfg))
    with PromAPIStandIn() as prom:
        result = collect_prometheus(con, prom.url, cfg, start=END - timedelta(hours=3), end=END, step="1s")
        assert len(prom.requests) == 2 * n_queries
        first, second = prom.requests[0][0], prom.requests[1][0]
        assert float(first["end"][0]) - float(first["start"][0]) == 9999  # 10,000 points
        assert float(second["start"][0]) == float(first["end"][0]) + 1
        assert result.rows_loaded == 10_801 * n_queries
        collect_prometheus(con, prom.url, cfg, start=END - timedelta(hours=5), end=END - timedelta(hours=4),
                           step="60s")  # backfill an older hour
    last = con.execute("SELECT DISTINCT last_ts FROM raw_prom_checkpoints").fetchall()
    assert last == [(END.replace(tzinfo=None),)]


def test_closed_port_is_a_clear_error_and_leaves_the_warehouse_unchanged(con, cfg, caplog):
    with PromAPIStandIn() as prom:
        collect_prometheus(con, prom.url, cfg, end=END)  # some earlier state to protect
    before = fingerprint(con)
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(CollectorError, match=rf"cannot reach Prometheus at {url} \(Connection refused\)"):
        collect_prometheus(con, url, cfg, end=END + timedelta(hours=1))
    assert fingerprint(con) == before
    logged = [r for r in caplog.records if r.name == "memlens.collectors.prometheus" and r.levelname == "ERROR"]
    assert len(logged) == 1 and "Connection refused" in logged[0].getMessage()
    assert "warehouse unchanged" in logged[0].getMessage()


def test_connection_settings_come_from_the_config(monkeypatch):
    from memlens.collectors.prometheus import client

    monkeypatch.setenv("PROM_TOKEN", "Bearer abc123-secret")
    cfg = load_config(None, overrides={"prometheus": {"verify_tls": False, "timeout_s": 3, "deadline_s": 40,
                                                      "auth_header_env": "PROM_TOKEN"}})
    pc = client("https://u:p@prom.example.com:9443/prom/", cfg, run_deadline=100.0)
    assert (pc.ep.scheme, pc.ep.host, pc.ep.port, pc.ep.prefix, pc.ep.verify_tls) == (
        "https", "prom.example.com", 9443, "/prom", False)
    assert (pc.timeout_s, pc.deadline_s, pc.run_deadline, pc.retries) == (3, 40, 100.0, 1)
    assert pc.ep.headers["Authorization"] == "Bearer abc123-secret"  # the configured header wins over u:p
    assert pc.ep.public == "https://prom.example.com:9443/prom"
    pc = client("https://prom.example.com", load_config(None), run_deadline=0.0)
    assert pc.ep.verify_tls is True and pc.timeout_s == 10 and "Authorization" not in pc.ep.headers
    assert pc.ep.port == 443 and pc.deadline_s == 300


def test_slow_prometheus_times_out_and_leaves_the_warehouse_unchanged(con):
    cfg = load_config(None, overrides={"prometheus": {"timeout_s": 0.5, "retries": 0, "window": "10m",
                                                      "step": "60s"}})
    before = fingerprint(con)
    # The answer comes after 60 s: had the 0.5 s limit not cut the request, the collection would succeed and the
    # test fail, however slow the machine (no timing asserted).
    with (PromAPIStandIn(delay_s=60.0) as prom,
          pytest.raises(CollectorError, match=r"did not answer query latency_p50_seconds within 0.5 s")):
        collect_prometheus(con, prom.url, cfg, end=END)
    assert fingerprint(con) == before


def test_failure_after_some_queries_writes_nothing(con, cfg):
    """Fetch everything first, then write: a failure on the 5th query (ops_per_second) leaves no partial samples."""
    before = fingerprint(con)
    with PromAPIStandIn(fail_after=4) as prom, pytest.raises(
            CollectorError, match=r"rejected query ops_per_second \(HTTP Status Code 400: parse error\)"):
        collect_prometheus(con, prom.url, cfg, end=END)
    assert fingerprint(con) == before


def test_auth_header_from_env_var_is_sent_and_never_stored(con, cfg, monkeypatch):
    secret = "Bearer s3cr3t-t0ken-value"
    monkeypatch.setenv("MY_PROM_AUTH", secret)
    auth_cfg = load_config(None, overrides={"prometheus": {"auth_header_env": "MY_PROM_AUTH", "step": "60s",
                                                           "window": "5m"}})
    with PromAPIStandIn() as prom:
        result = collect_prometheus(con, prom.url.replace("http://", "http://user:pw@"), auth_cfg, end=END)
        assert {h.get("Authorization") for _, h in prom.requests} == {secret}  # the header wins over user:pw
        prom.requests.clear()
        collect_prometheus(con, prom.url.replace("http://", "http://user:pw@"), cfg, start=END, end=END)  # no header
        assert {h.get("Authorization") for _, h in prom.requests} == {"Basic dXNlcjpwdw=="}  # user:pw
    assert result.rows_loaded > 0
    dump = json.dumps(con.execute("SELECT * FROM raw_ingest_runs").fetchall(), default=str)
    dump += json.dumps(con.execute("SELECT DISTINCT source_url FROM raw_prom_samples").fetchall())
    assert "s3cr3t" not in dump and "pw@" not in dump and prom.url in dump


def test_missing_auth_env_var_names_the_setting(con, monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    auth_cfg = load_config(None, overrides={"prometheus": {"auth_header_env": "NOT_SET_ANYWHERE"}})
    with pytest.raises(CollectorError, match=r"prometheus.auth_header_env names \$NOT_SET_ANYWHERE"):
        collect_prometheus(con, "http://127.0.0.1:9", auth_cfg, end=END)


def test_cli_outage_exit_code_and_message(tmp_path, capsys):
    from memlens.cli import main

    url = f"http://127.0.0.1:{free_port()}"
    code = main(["collect", "prometheus", "--url", url, "--warehouse", str(tmp_path / "w.duckdb"),
                 "--end", "2026-11-25T12:00:00Z"])
    assert code == 1
    assert f"cannot reach Prometheus at {url} (Connection refused)" in capsys.readouterr().err


def test_optional_resource_queries():
    cfg = load_config(None, overrides={"prometheus": {"process_job": "mem0-api",
                                                      "vector_points_metric": "collections_vector_total"}})
    by_name = {q.name: q.expr for q in queries(cfg)}
    assert by_name["process_resident_memory_bytes"] == 'process_resident_memory_bytes{job="mem0-api"}'
    assert by_name["process_cpu_cores"] == 'rate(process_cpu_seconds_total{job="mem0-api"}[5m])'
    assert by_name["vector_store_points"] == "sum(collections_vector_total)"
    assert "vector_store_points" not in {q.name for q in queries(load_config(None))}


def test_helpers():
    assert parse_duration("1h30m") == 5400 and parse_duration("15") == 15 and parse_duration("250ms") == 0.25
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("5 minutes", "step")
    assert public_url("https://u:p@prom.example.com:9443/prom/?x=1") == "https://prom.example.com:9443/prom"
