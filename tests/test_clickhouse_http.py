"""The network client path: memlens.clickhouse's HTTP transport through clickhouse-connect, against a local HTTP
endpoint. No ClickHouse server installs here (docs/scale.md): the endpoint is a STAND-IN for the server's HTTP
interface (tests/clickhouse_http_front.py) whose every answer comes from ClickHouse's real engine (chdb)."""

from __future__ import annotations

import uuid

import pytest
from clickhouse_http_front import ClickHouseHttpFront
from test_collect_oplog import ev, write_lines

from memlens import figures
from memlens.collectors.oplog import collect_oplogs
from memlens.config import default_config
from memlens.warehouse import WarehouseError, connect

CFG = default_config()
KEYS = ("ops", "error_rate", "avg_ms", "p50_ms", "p99_ms", "total_cost_usd", "slow_share")


@pytest.fixture
def front():
    f = ClickHouseHttpFront()
    yield f
    f.stop()


def test_collect_and_read_figures_over_http_equal_duckdb(front, tmp_path):
    log = write_lines(tmp_path / "a.jsonl", [
        ev(1), ev(2, op="add", latency_ms=120.0, llm_model="gpt-4o-mini", llm_input_tokens=300, llm_output_tokens=40),
        ev(3, status="error", error_type="TimeoutError"), ev(1), "{broken", ev(4, filter_keys=["user_id"])])
    url = f"clickhouse://default@127.0.0.1:{front.port}/http_{uuid.uuid4().hex[:8]}"
    ch, duck = connect(url), connect(":memory:")
    try:
        for con in (ch, duck):
            r = collect_oplogs(con, [log], CFG)
            assert (r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (4, 1, 1)
        again = collect_oplogs(ch, [log], CFG)
        assert (again.rows_loaded, again.rows_duplicate, again.rows_quarantined, again.bytes_read) == (0, 0, 0, 0)
        got, want = figures.values(ch, KEYS), figures.values(duck, KEYS)
        assert got == pytest.approx(want) and want["ops"] == 4
        assert ch.execute("SELECT source_line, reason FROM raw_quarantine").fetchall() == [
            (5, "invalid JSON (truncated or malformed line)")]
    finally:
        ch.close()
        duck.close()
    assert front.requests > 50  # every statement went over HTTP


def test_a_password_in_the_url_is_refused_and_a_missing_variable_named(front, monkeypatch):
    with pytest.raises(WarehouseError, match="password_env"):
        connect(f"clickhouse://u:secret@127.0.0.1:{front.port}/x")
    monkeypatch.delenv("MEMLENS_TEST_CH_PASSWORD", raising=False)
    cfg = default_config().model_copy(update={"warehouse": default_config().warehouse.model_copy(
        update={"password_env": "MEMLENS_TEST_CH_PASSWORD"})})
    with pytest.raises(WarehouseError, match=r"\$MEMLENS_TEST_CH_PASSWORD, which is not set"):
        connect(f"clickhouse://u@127.0.0.1:{front.port}/x", cfg)
