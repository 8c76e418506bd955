"""Known answers for the query-shape views (limit, scope, rerank) and the cache views."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest
from view_support import event, insert_events

T = datetime(2026, 11, 2, 9)
PCT = [50, 95, 99]


def rows(con, sql, params=()):
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


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
    # get_all without a recorded top_k, and an add (ignored by the shape views)
    ev.append(event(T, "get_all", 25.0, result_count=7, user_id="u2"))
    ev.append(event(T, "add", 99.0, user_id="u1"))
    insert_events(con, ev)
    return con


def test_query_shape_limit(shaped):
    r = {(x["op"], x["effective_limit"]): x for x in rows(shaped, "SELECT * FROM metric_query_shape_limit")}
    assert set(r) == {("search", 20), ("search", 5), ("get_all", None)}
    s20 = r[("search", 20)]
    lat20 = [20.0, 30.0, 40.0, 50.0, 60.0, 70.0]
    assert s20["calls"] == 6 and s20["share"] == pytest.approx(6 / 9)
    assert [s20["p50_ms"], s20["p95_ms"], s20["p99_ms"]] == pytest.approx(np.percentile(lat20, PCT))
    assert s20["avg_ms"] == pytest.approx(45.0)
    assert s20["avg_result_count"] == pytest.approx((5 * 20 + 10) / 6)
    assert s20["limit_passed_calls"] == 4 and s20["limit_ignored_calls"] == 3
    s5 = r[("search", 5)]
    assert s5["calls"] == 3 and s5["limit_ignored_calls"] == 0 and s5["avg_result_count"] == pytest.approx(4.0)
    assert r[("get_all", None)]["share"] == pytest.approx(1.0)


def test_query_shape_scope(shaped):
    r = {(x["op"], x["scope"]): x for x in rows(shaped, "SELECT * FROM metric_query_shape_scope")}
    assert set(r) == {("search", "user"), ("search", "none"), ("search", "agent+run"), ("get_all", "user")}
    none = r[("search", "none")]
    assert none["is_unscoped"] is True and none["calls"] == 1 and none["share"] == pytest.approx(1 / 9)
    assert none["p99_ms"] == 300.0
    user = r[("search", "user")]
    lat = [20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 8.0]
    assert user["calls"] == 7 and [user["p50_ms"], user["p95_ms"], user["p99_ms"]] == pytest.approx(
        np.percentile(lat, PCT))


def test_query_shape_rerank(shaped):
    r = {x["rerank"]: x for x in rows(shaped, "SELECT * FROM metric_query_shape_rerank")}
    assert r[True]["calls"] == 2 and r[True]["share"] == pytest.approx(2 / 9)
    assert r[True]["avg_ms"] == pytest.approx(154.0)
    assert [r[True]["p50_ms"], r[True]["p95_ms"]] == pytest.approx(np.percentile([8.0, 300.0], [50, 95]))
    assert r[False]["calls"] == 7  # NULL rerank reads as mem0's default, false


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
    # day 2: all misses (hit rate 0, below target), and a search without cache (ignored)
    ev.append(event(d2, "search", 50.0, user_id="u1", query_hash="qa", cache="miss", demo=True))
    ev.append(event(d2, "search", 50.0, user_id="u1", query_hash="qa"))
    insert_events(con, ev)
    return con


def test_cache_daily_hit_rate_and_miss_penalty(cached):
    d = {x["day"]: x for x in rows(cached, "SELECT * FROM metric_cache_daily")}
    d1 = d[date(2026, 11, 2)]
    assert (d1["cache_requests"], d1["hits"], d1["misses"], d1["bypasses"]) == (8, 5, 2, 1)
    assert d1["hit_rate"] == pytest.approx(5 / 7)
    assert d1["avg_hit_ms"] == pytest.approx(12.0 / 5) and d1["avg_miss_ms"] == pytest.approx(50.0)
    assert d1["miss_penalty"] == pytest.approx(50.0 / 2.4)
    assert d1["cache_hit_target"] == pytest.approx(0.70) and d1["below_target"] is False
    d2 = d[date(2026, 11, 3)]
    assert d2["hit_rate"] == 0 and d2["below_target"] is True and d2["miss_penalty"] is None
    assert d2["demo_events"] == 1


def test_cache_by_user(cached):
    u = {x["user_id"]: x for x in rows(cached, "SELECT * FROM metric_cache_by_user")}
    assert (u["u1"]["hits"], u["u1"]["misses"]) == (4, 2) and u["u1"]["hit_rate"] == pytest.approx(4 / 6)
    assert u["u2"]["hit_rate"] == pytest.approx(1 / 2) and u["u2"]["bypasses"] == 1


def test_cache_by_query(cached):
    q = {x["query_hash"]: x for x in rows(cached, "SELECT * FROM metric_cache_by_query")}
    assert (q["qa"]["requests"], q["qa"]["hits"], q["qa"]["misses"], q["qa"]["users"]) == (5, 3, 2, 1)
    assert q["qa"]["hit_rate"] == pytest.approx(3 / 5)
    assert q["qa"]["avg_miss_ms"] == pytest.approx(45.0) and q["qa"]["avg_hit_ms"] == pytest.approx(3.0)
    assert q["qb"]["users"] == 2 and q["qb"]["hit_rate"] == pytest.approx(2 / 3)
    assert q["qc"]["hit_rate"] is None and q["qc"]["bypasses"] == 1
