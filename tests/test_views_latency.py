"""Known answers for the latency, error and slow-operation views (percentiles = numpy.percentile 'linear')."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest
from view_support import event, insert_events

D1, D2 = datetime(2026, 11, 2, 9), datetime(2026, 11, 3, 14)
SEARCH_D1 = [12.0, 15.0, 18.0, 30.0, 45.0, 250.0, 900.0]   # two over the 200 ms slow threshold
ADD_D1 = [80.0, 120.0, 310.0]
SEARCH_D2 = [5.0, 7.5, 11.0, 14.0]


@pytest.fixture
def loaded(con):
    rows = [event(D1.replace(minute=i), "search", ms) for i, ms in enumerate(SEARCH_D1)]
    rows += [event(D1.replace(minute=30 + i), "add", ms) for i, ms in enumerate(ADD_D1)]
    rows[-1]["status"], rows[-1]["error_type"] = "error", "TimeoutError"
    rows[0]["status"], rows[0]["error_type"] = "error", "ValueError"
    rows += [event(D2.replace(minute=i), "search", ms, demo=True) for i, ms in enumerate(SEARCH_D2)]
    insert_events(con, rows)
    return con


def pct(values):
    return np.percentile(values, [50, 95, 99])  # numpy's default: method='linear'


def one(con, sql, params=()):
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    assert len(rows) == 1, rows
    return dict(zip(names, rows[0], strict=True))


def test_latency_daily_percentiles_equal_numpy(loaded):
    r = one(loaded, "SELECT * FROM metric_latency_daily WHERE day = ? AND op = 'search'", [date(2026, 11, 2)])
    assert r["ops"] == 7 and r["errors"] == 1 and r["demo_events"] == 0
    assert [r["p50_ms"], r["p95_ms"], r["p99_ms"]] == pytest.approx(pct(SEARCH_D1))
    assert r["avg_ms"] == pytest.approx(np.mean(SEARCH_D1))
    assert r["max_ms"] == 900.0
    assert r["ops_per_s"] == pytest.approx(7 / 86400)
    every = one(loaded, "SELECT * FROM metric_latency_daily WHERE day = ? AND op = 'all'", [date(2026, 11, 2)])
    assert every["ops"] == 10 and every["errors"] == 2
    assert [every["p50_ms"], every["p95_ms"], every["p99_ms"]] == pytest.approx(pct(SEARCH_D1 + ADD_D1))


def test_latency_hourly_and_by_op(loaded):
    r = one(loaded, "SELECT * FROM metric_latency_hourly WHERE hour = ? AND op = 'search'", [D2])
    assert r["ops"] == 4 and r["demo_events"] == 4
    assert [r["p50_ms"], r["p95_ms"], r["p99_ms"]] == pytest.approx(pct(SEARCH_D2))
    assert r["ops_per_s"] == pytest.approx(4 / 3600)
    s = one(loaded, "SELECT * FROM metric_latency_by_op WHERE op = 'search'")
    assert s["ops"] == 11 and s["error_rate"] == pytest.approx(1 / 11)
    assert [s["p50_ms"], s["p95_ms"], s["p99_ms"]] == pytest.approx(pct(SEARCH_D1 + SEARCH_D2))
    a = one(loaded, "SELECT * FROM metric_latency_by_op WHERE op = 'all'")
    assert a["ops"] == 14 and a["first_ts"] == D1 and a["last_ts"] == D2.replace(minute=3)
    span = (D2.replace(minute=3) - D1).total_seconds()
    assert a["ops_per_s"] == pytest.approx(14 / span)


def test_error_rate_daily(loaded):
    r = one(loaded, "SELECT * FROM metric_error_rate_daily WHERE day = ? AND op = 'all'", [date(2026, 11, 2)])
    assert (r["ops"], r["errors"]) == (10, 2)
    assert r["error_rate"] == pytest.approx(0.2)
    assert r["error_rate_max"] == pytest.approx(0.05) and r["over_threshold"] is True
    add = one(loaded, "SELECT * FROM metric_error_rate_daily WHERE day = ? AND op = 'add'", [date(2026, 11, 2)])
    assert add["error_rate"] == pytest.approx(1 / 3) and add["top_error_type"] == "TimeoutError"
    d2 = one(loaded, "SELECT * FROM metric_error_rate_daily WHERE day = ? AND op = 'all'", [date(2026, 11, 3)])
    assert d2["errors"] == 0 and d2["over_threshold"] is False and d2["top_error_type"] is None


def test_slow_ops_and_share(loaded):
    slow = loaded.execute("SELECT op, latency_ms, slow_op_ms FROM metric_slow_ops ORDER BY latency_ms").fetchall()
    assert slow == [("search", 250.0, 200.0), ("add", 310.0, 200.0), ("search", 900.0, 200.0)]
    r = one(loaded, "SELECT * FROM metric_slow_share_daily WHERE day = ? AND op = 'all'", [date(2026, 11, 2)])
    assert (r["ops"], r["slow_ops"]) == (10, 3)
    assert r["slow_share"] == pytest.approx(0.3) and r["over_threshold"] is True
    s = one(loaded, "SELECT * FROM metric_slow_share_daily WHERE day = ? AND op = 'search'", [date(2026, 11, 3)])
    assert s["slow_ops"] == 0 and s["slow_share"] == 0 and s["over_threshold"] is False


def test_slow_threshold_comes_from_config():
    from memlens.config import load_config
    from memlens.warehouse import connect

    c = connect(":memory:", load_config(overrides={"thresholds": {"slow_op_ms": 100}}))
    try:
        insert_events(c, [event(D1, "search", ms) for ms in (90.0, 110.0, 150.0)])
        assert c.execute("SELECT count(*) FROM metric_slow_ops").fetchone()[0] == 2
    finally:
        c.close()
