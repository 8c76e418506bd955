"""Known answers for memory growth (per day and week, in total and per user / agent, week-over-week %), storage
growth, and the health figures measured over a small hand-built warehouse."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest
from view_support import event, insert_events, insert_history, insert_snapshot

from memlens import figures, health, layer
from memlens.config import load_config

W1, W2 = datetime(2026, 11, 2), datetime(2026, 11, 9)  # Mondays


def rows(con, sql, params=()):
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def by(df, *keys):
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r for r in df.to_dict("records")}


def none(v) -> bool:
    return v is None or v != v  # NULL reads as NaN in a float column


@pytest.fixture
def grown(con):
    t = datetime(2026, 11, 3, 10)
    # m1, m2 attributed to u1 by the op-log add that created them; m2's delete is also in the log.
    insert_events(con, [
        event(t, "add", user_id="u1", agent_id="bot", result_ids=["m1"], memories_created=1),
        event(datetime(2026, 11, 11, 9), "delete", user_id="u1", memory_id="m2", demo=True),
    ])
    # m3, m4 attributed to u2 by a snapshot (no op-log add for them)
    insert_snapshot(con, "s1", datetime(2026, 11, 12), [("m3", "u2", None, 200, "h3"), ("m4", "u2", None, 150, "h4")])
    insert_history(con, [
        ("m1", "ADD", datetime(2026, 11, 3, 10), None, 100),
        ("m2", "ADD", datetime(2026, 11, 4, 10), None, 50),     # attributed through its delete call (u1)
        ("m3", "ADD", datetime(2026, 11, 4, 11), None, 200),
        ("m4", "ADD", datetime(2026, 11, 10, 8), None, 150),
        ("m1", "UPDATE", datetime(2026, 11, 10, 9), 100, 120),
        ("m2", "DELETE", datetime(2026, 11, 11, 9), 50, None),
    ])
    return con


def test_memory_events_attribution(grown):
    got = {(r["memory_id"], r["event"]): r for r in rows(grown, "SELECT * FROM stg_memory_events")}
    assert got[("m1", "ADD")]["user_id"] == "u1" and got[("m1", "ADD")]["agent_id"] == "bot"
    assert got[("m2", "ADD")]["user_id"] == "u1" and got[("m2", "ADD")]["attributed_by"] == "oplog"
    assert got[("m2", "ADD")]["is_demo"] is True
    assert got[("m3", "ADD")]["user_id"] == "u2" and got[("m3", "ADD")]["attributed_by"] == "snapshot"
    assert got[("m2", "DELETE")]["bytes_delta"] == -50 and got[("m1", "UPDATE")]["bytes_delta"] == 20


def test_memory_growth_weekly_totals(grown):
    w = by(layer.query(grown, "memory_growth", grain="week"), "bucket")
    assert (w[W1]["adds"], w[W1]["memories_delta"], w[W1]["memories"], w[W1]["bytes"]) == (3, 3, 3, 350)
    assert none(w[W1]["memories_growth"]) and none(w[W1]["bytes_growth"])  # nothing held before
    w2 = w[W2]
    assert (w2["adds"], w2["updates"], w2["deletes"]) == (1, 1, 1)
    assert (w2["memories_delta"], w2["bytes_delta"], w2["bytes_added"]) == (0, 150 + 20 - 50, 150)
    assert (w2["memories"], w2["bytes"]) == (3, 470)
    assert w2["memories_growth"] == 0
    assert w2["bytes_growth"] == pytest.approx(120 / 350)  # week-over-week +34.3 %
    assert w2["bytes_growth"] > load_config().thresholds.storage_growth_per_week


def test_memory_growth_weekly_per_user_and_agent(grown):
    u = by(layer.query(grown, "memory_growth", by=("user_id",), grain="week"), "user_id", "bucket")
    assert (u[("u1", W1)]["memories"], u[("u1", W1)]["bytes"]) == (2, 150)
    u1 = u[("u1", W2)]
    assert (u1["memories_delta"], u1["memories"], u1["bytes"]) == (-1, 1, 120)
    assert u1["memories_growth"] == pytest.approx(-0.5) and u1["bytes_growth"] == pytest.approx(-30 / 150)
    u2 = u[("u2", W2)]
    assert u2["memories_growth"] == pytest.approx(1.0) and u2["bytes_growth"] == pytest.approx(150 / 200)
    a = by(layer.query(grown, "memory_growth", by=("agent_id",), grain="week"), "agent_id", "bucket")
    assert a[("bot", W1)]["memories"] == 1 and a[(None, W1)]["memories"] == 2
    only_u1 = layer.query(grown, "memory_growth", layer.Filters(user="u1"), grain="week")
    assert list(only_u1["memories"]) == [2, 1]


def test_memory_growth_daily(grown):
    d = by(layer.query(grown, "memory_growth", grain="day"), "bucket")
    assert sorted(d) == [datetime(2026, 11, 3), datetime(2026, 11, 4), datetime(2026, 11, 10),
                         datetime(2026, 11, 11)]
    assert d[datetime(2026, 11, 4)]["memories"] == 3
    assert d[datetime(2026, 11, 4)]["memories_growth"] == pytest.approx(2.0)
    nov10 = d[datetime(2026, 11, 10)]
    assert (nov10["memories"], nov10["bytes"]) == (4, 520) and nov10["bytes_growth"] == pytest.approx(170 / 350)
    assert d[datetime(2026, 11, 11)]["memories_growth"] == pytest.approx(-1 / 4)
    # a range shows its days, with what was held before it counted
    later = layer.query(grown, "memory_growth", layer.Filters.days(date(2026, 11, 10), date(2026, 11, 10)),
                        grain="day")
    assert list(later["memories"]) == [4] and list(later["bytes"]) == [520]


def test_health_figures(con):
    t = datetime(2026, 11, 9, 12)
    searches = [10.0, 20.0, 30.0, 40.0, 500.0]
    ev = [event(t, "search", ms, embedding_model="text-embedding-3-small", embedding_tokens=1_000_000)
          for ms in searches]
    ev[0]["cache"], ev[1]["cache"], ev[2]["cache"] = "hit", "hit", "miss"
    ev[3]["user_id"] = "u1"  # the one uncached search a cache would look up (scoped): the miss penalty's baseline
    ev.append(event(t, "add", 1000.0, status="error", llm_model="gpt-4o-mini", llm_input_tokens=1_000_000,
                    llm_output_tokens=0))
    ev.append(event(t, "search", 70.0, mode="platform"))
    insert_events(con, ev)
    insert_history(con, [("m1", "ADD", datetime(2026, 10, 1), None, 1000),
                         ("m2", "ADD", datetime(2026, 11, 2), None, 100),
                         ("m1", "UPDATE", datetime(2026, 11, 10), 1000, 1010)])
    h = figures.values(con, list(figures.FIGURES))
    assert (h["ops"], h["searches"]) == (7, 6)
    s = [*searches, 70.0]
    assert [h["search_p50_ms"], h["search_p95_ms"], h["search_p99_ms"]] == pytest.approx(
        np.percentile(s, [50, 95, 99]))
    assert h["search_avg_ms"] == pytest.approx(np.mean(s))
    assert h["p99_ms"] == pytest.approx(np.percentile([*s, 1000.0], 99))
    assert h["error_rate"] == pytest.approx(1 / 7) and h["slow_share"] == pytest.approx(2 / 7)
    assert h["hit_rate"] == pytest.approx(2 / 3) and h["miss_penalty"] == pytest.approx(30.0 / 40.0)
    # 5 x $0.02 embedding + $0.15 LLM input
    assert h["total_cost_usd"] == pytest.approx(0.25) and h["embedding_share"] == pytest.approx(0.10 / 0.25)
    assert h["cost_per_1k_oss"] == pytest.approx(0.25 * 1000 / 5)
    assert h["cost_per_1k_platform"] == 0
    assert (h["memories"], h["bytes"]) == (2, 1110)
    assert h["storage_growth_month"] == pytest.approx(110 / 1000)  # held on Oct 11: 1000 bytes
    assert h["storage_growth_week"] == pytest.approx(10 / 1100)    # held on Nov 3: 1100 bytes
    m = health.measure(con)
    assert (m.p99_ms, m.hit_rate) == (h["search_p99_ms"], h["hit_rate"])
    # $0.25 over 5 OSS calls; to float precision (ClickHouse sums the costs in another order than DuckDB)
    assert m.cost_per_1k == pytest.approx({"oss": 50.0, "platform": 0.0}, rel=1e-12)
    assert not m.storage_growth_is_estimate and m.storage_growth_month == pytest.approx(0.11)


def test_health_figures_on_an_empty_warehouse(con):
    h = figures.values(con, list(figures.FIGURES))
    assert h["ops"] == 0 and h["p95_ms"] is None and h["hit_rate"] is None and h["memories"] is None
