"""Known answers for the layer's query-shape figures (limit, scope, rerank) and its cache outcomes (the miss
penalty and what could be served: tests/test_layer_cache.py)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from view_support import event, insert_events

from memlens import layer
from memlens.config import load_config

T = datetime(2026, 11, 2, 9)
PCT = [50, 95, 99]
SEARCH, GET_ALL = layer.Filters(op="search"), layer.Filters(op="get_all")


def by(df, key):
    return {r[key]: r for r in df.to_dict("records")}


@pytest.fixture
def shaped(con):
    ev = []
    # top_k 20 searches: three passed limit=5 (OSS ignores it), one is a Platform call passing limit (not ignored)
    for ms, lim in [(20.0, 5), (30.0, 5), (40.0, 5), (50.0, None), (60.0, None)]:
        ev.append(event(T, "search", ms, top_k=20, limit=lim, result_count=20, user_id="u1"))
    ev.append(event(T, "search", 70.0, mode="platform", top_k=20, limit=5, result_count=10, user_id="u1"))
    # top_k 5 searches, one unscoped (no user/agent/run and empty filter_keys), one scoped via filter_keys only
    ev.append(event(T, "search", 8.0, top_k=5, result_count=5, user_id="u1", rerank=True))
    ev.append(event(T, "search", 300.0, top_k=5, result_count=3, filter_keys=[], rerank=True))
    ev.append(event(T, "search", 12.0, top_k=5, result_count=4, filter_keys=["agent_id", "run_id"]))
    # get_all without a recorded top_k, and an add (ignored by the shape figures)
    ev.append(event(T, "get_all", 25.0, result_count=7, user_id="u2"))
    ev.append(event(T, "add", 99.0, user_id="u1"))
    insert_events(con, ev)
    return con


def test_query_shape_limit(shaped):
    r = by(layer.latency(shaped, SEARCH, ("effective_limit",)), "effective_limit")
    assert set(r) == {20, 5}
    s20 = r[20]
    lat20 = [20.0, 30.0, 40.0, 50.0, 60.0, 70.0]
    assert s20["ops"] == 6 and s20["ops"] / sum(x["ops"] for x in r.values()) == pytest.approx(6 / 9)
    assert [s20["p50_ms"], s20["p95_ms"], s20["p99_ms"]] == pytest.approx(np.percentile(lat20, PCT))
    assert s20["avg_ms"] == pytest.approx(45.0)
    assert s20["avg_result_count"] == pytest.approx((5 * 20 + 10) / 6)
    assert s20["limit_passed_calls"] == 4 and s20["limit_ignored_calls"] == 3
    s5 = r[5]
    assert s5["ops"] == 3 and s5["limit_ignored_calls"] == 0 and s5["avg_result_count"] == pytest.approx(4.0)
    g = layer.latency(shaped, GET_ALL, ("effective_limit",))
    assert len(g) == 1 and g["ops"].iloc[0] == 1 and pd.isna(g["effective_limit"].iloc[0])


def test_query_shape_scope(shaped):
    r = by(layer.latency(shaped, SEARCH, ("scope",)), "scope")
    assert set(r) == {"user", "none", "agent+run"}
    none = r["none"]
    assert none["ops"] == 1 and none["p99_ms"] == 300.0
    user = r["user"]
    lat = [20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 8.0]
    assert user["ops"] == 7 and [user["p50_ms"], user["p95_ms"], user["p99_ms"]] == pytest.approx(
        np.percentile(lat, PCT))
    assert layer.one(layer.query(shaped, "ops", SEARCH))["search_unscoped_share"] == pytest.approx(1 / 9)
    assert by(layer.latency(shaped, GET_ALL, ("scope",)), "scope").keys() == {"user"}


def test_query_shape_rerank(shaped):
    r = by(layer.latency(shaped, SEARCH, ("rerank_requested",)), "rerank_requested")
    assert r[True]["ops"] == 2 and r[True]["ops"] / 9 == pytest.approx(2 / 9)
    assert r[True]["avg_ms"] == pytest.approx(154.0)
    assert [r[True]["p50_ms"], r[True]["p95_ms"]] == pytest.approx(np.percentile([8.0, 300.0], [50, 95]))
    assert r[False]["ops"] == 7  # NULL rerank reads as mem0's default, false
    assert layer.one(layer.query(shaped, "ops", SEARCH))["search_rerank_share"] == pytest.approx(2 / 9)


@pytest.fixture
def cached(con):
    d1, d2 = datetime(2026, 11, 2, 9), datetime(2026, 11, 3, 9)
    ev = []
    # day 1: qa asked 4x by u1 (1 miss then 3 hits), qb by u2 (1 miss, 1 hit) and u1 (1 hit); one bypass
    for c, ms in [("miss", 40.0), ("hit", 2.0), ("hit", 4.0), ("hit", 3.0)]:
        ev.append(event(d1, "search", ms, user_id="u1", query_hash="qa", cache=c))
    for u, c, ms in [("u2", "miss", 60.0), ("u2", "hit", 1.0), ("u1", "hit", 2.0)]:
        ev.append(event(d1, "search", ms, user_id=u, query_hash="qb", cache=c))
    ev.append(event(d1, "search", 90.0, user_id="u2", query_hash="qc", cache="bypass"))
    # day 2: all misses (hit rate 0, below target), and a search without cache (no cache outcome)
    ev.append(event(d2, "search", 50.0, user_id="u1", query_hash="qa", cache="miss", demo=True))
    ev.append(event(d2, "search", 50.0, user_id="u1", query_hash="qa"))
    insert_events(con, ev)
    return con


def test_cache_per_day_hit_rate(cached):
    target = load_config().targets.cache_hit_rate
    d = by(layer.query(cached, "ops", by=("bucket",), grain="day"), "bucket")
    d1 = d[datetime(2026, 11, 2)]
    assert (d1["cache_requests"], d1["hits"], d1["misses"], d1["bypasses"]) == (8, 5, 2, 1)
    assert d1["hit_rate"] == pytest.approx(5 / 7) and d1["hit_rate"] >= target
    assert d1["avg_hit_ms"] == pytest.approx(12.0 / 5) and d1["avg_miss_ms"] == pytest.approx(50.0)
    d2 = d[datetime(2026, 11, 3)]
    assert d2["hit_rate"] == 0
    assert d2["demo_events"] == 1


def test_cache_by_user(cached):
    u = by(layer.query(cached, "ops", by=("user_id",)), "user_id")
    assert (u["u1"]["hits"], u["u1"]["misses"]) == (4, 2) and u["u1"]["hit_rate"] == pytest.approx(4 / 6)
    assert u["u2"]["hit_rate"] == pytest.approx(1 / 2) and u["u2"]["bypasses"] == 1


def test_cache_by_query(cached):
    cache_only = layer.query(cached, "ops", by=("query_hash",))
    users = by(layer.query(cached, "distinct_users", by=("query_hash",)), "query_hash")
    q = by(cache_only, "query_hash")
    assert (q["qa"]["cache_requests"], q["qa"]["hits"], q["qa"]["misses"]) == (5, 3, 2)
    assert users["qa"]["users"] == 1 and users["qb"]["users"] == 2
    assert q["qa"]["hit_rate"] == pytest.approx(3 / 5)
    assert q["qa"]["avg_miss_ms"] == pytest.approx(45.0) and q["qa"]["avg_hit_ms"] == pytest.approx(3.0)
    assert q["qb"]["hit_rate"] == pytest.approx(2 / 3)
    assert np.isnan(q["qc"]["hit_rate"]) and q["qc"]["bypasses"] == 1
