"""Known answers for the layer's latency, error and slow-operation figures (percentiles = numpy.percentile
'linear'), over whole days, hours and the whole warehouse."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest
from view_support import event, insert_events

from memlens import layer
from memlens.config import load_config

D1, D2 = datetime(2026, 11, 2, 9), datetime(2026, 11, 3, 14)
SEARCH_D1 = [12.0, 15.0, 18.0, 30.0, 45.0, 250.0, 900.0]   # two over the 200 ms slow threshold
ADD_D1 = [80.0, 120.0, 310.0]
SEARCH_D2 = [5.0, 7.5, 11.0, 14.0]
DAY1 = layer.Filters.days(date(2026, 11, 2), date(2026, 11, 2))


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


def row(df, **where):
    for k, v in where.items():
        df = df[df[k] == v]
    assert len(df) == 1, df
    return layer.one(df)


def test_latency_per_day_percentiles_equal_numpy(loaded):
    r = row(layer.latency(loaded, DAY1, ("op",)), op="search")
    assert r["ops"] == 7 and r["errors"] == 1 and r["demo_events"] == 0
    assert [r["p50_ms"], r["p95_ms"], r["p99_ms"]] == pytest.approx(pct(SEARCH_D1))
    assert r["avg_ms"] == pytest.approx(np.mean(SEARCH_D1))
    assert r["max_ms"] == 900.0
    assert r["ops_per_s"] == pytest.approx(7 / 86400)
    every = layer.one(layer.latency(loaded, DAY1))
    assert every["ops"] == 10 and every["errors"] == 2
    assert [every["p50_ms"], every["p95_ms"], every["p99_ms"]] == pytest.approx(pct(SEARCH_D1 + ADD_D1))
    # the same day as a bucket of a daily series
    series = layer.latency(loaded, layer.ALL, ("bucket", "op"), "day")
    assert row(series, bucket=datetime(2026, 11, 2), op="search")["p95_ms"] == pytest.approx(pct(SEARCH_D1)[1])


def test_latency_per_hour_and_per_op(loaded):
    hour = layer.Filters(D2, D2 + timedelta(hours=1))
    r = row(layer.latency(loaded, hour, ("op",)), op="search")
    assert r["ops"] == 4 and r["demo_events"] == 4
    assert [r["p50_ms"], r["p95_ms"], r["p99_ms"]] == pytest.approx(pct(SEARCH_D2))
    assert r["ops_per_s"] == pytest.approx(4 / 3600)
    s = row(layer.latency(loaded, by=("op",)), op="search")
    assert s["ops"] == 11 and s["error_rate"] == pytest.approx(1 / 11)
    assert [s["p50_ms"], s["p95_ms"], s["p99_ms"]] == pytest.approx(pct(SEARCH_D1 + SEARCH_D2))
    span = layer.one(layer.query(loaded, "span"))
    assert span["first_ts"] == D1 and span["last_ts"] == D2.replace(minute=3)
    whole = layer.Filters(span["first_ts"], span["last_ts"])  # throughput over the span of the calls
    assert layer.one(layer.query(loaded, "ops", whole))["ops_per_s"] == pytest.approx(
        13 / (D2.replace(minute=3) - D1).total_seconds())  # [first, last): the last call is outside


def test_error_rate_per_day(loaded):
    cfg = load_config()
    r = layer.one(layer.query(loaded, "ops", DAY1))
    assert (r["ops"], r["errors"]) == (10, 2)
    assert r["error_rate"] == pytest.approx(0.2) and r["error_rate"] > cfg.thresholds.error_rate
    add = row(layer.query(loaded, "ops", DAY1, ("op",)), op="add")
    assert add["error_rate"] == pytest.approx(1 / 3)
    assert row(layer.query(loaded, "error_types", DAY1, ("op",)), op="add")["top_error_type"] == "TimeoutError"
    day2 = layer.Filters.days(date(2026, 11, 3), date(2026, 11, 3))
    d2 = layer.one(layer.query(loaded, "ops", day2))
    assert d2["errors"] == 0 and d2["error_rate"] == 0
    assert layer.one(layer.query(loaded, "error_types", day2))["top_error_type"] is None


def test_slow_ops_and_share(loaded):
    slow = layer.query(loaded, "slow_ops", limit=10)
    assert list(zip(slow["op"], slow["latency_ms"], strict=True)) == [("search", 900.0), ("add", 310.0),
                                                                      ("search", 250.0)]
    r = layer.one(layer.query(loaded, "ops", DAY1))
    assert (r["ops"], r["slow_ops"]) == (10, 3)
    assert r["slow_share"] == pytest.approx(0.3) and r["slow_share"] > load_config().thresholds.slow_op_share
    s = row(layer.query(loaded, "ops", layer.Filters.days(date(2026, 11, 3), date(2026, 11, 3)), ("op",)),
            op="search")
    assert s["slow_ops"] == 0 and s["slow_share"] == 0


def test_slow_threshold_comes_from_config():
    from memlens.warehouse import connect

    c = connect(":memory:", load_config(overrides={"thresholds": {"slow_op_ms": 100}}))
    try:
        insert_events(c, [event(D1, "search", ms) for ms in (90.0, 110.0, 150.0)])
        assert len(layer.query(c, "slow_ops", limit=10)) == 2
        assert layer.one(layer.query(c, "ops"))["slow_ops"] == 2
    finally:
        c.close()
