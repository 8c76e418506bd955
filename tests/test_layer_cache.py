"""Known answers for the cache figures of the metric layer: the miss penalty against uncached searches
(sql/layer/cache.sql) and what could be served (sql/layer/cache_reuse.sql over stg_cache_lookups)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from view_support import event, insert_events

from memlens import figures, layer
from memlens.config import load_config
from memlens.optimize.cache_sim import load_trace, simulate

D1, D2 = datetime(2026, 11, 2, 9), datetime(2026, 11, 3, 9)


@pytest.fixture
def cached(con):
    """The cache fixture of test_views_shape_cache: day 1 a miss of 40 ms then three hits of qa by u1, a miss of
    60 ms and a hit of qb by u2, a hit of qb by u1, a bypass of 90 ms by u2; day 2 a miss of 50 ms and a search
    of 50 ms without a cache (both u1, qa). One service."""
    ev = []
    for c, ms in [("miss", 40.0), ("hit", 2.0), ("hit", 4.0), ("hit", 3.0)]:
        ev.append(event(D1, "search", ms, user_id="u1", query_hash="qa", cache=c))
    for u, c, ms in [("u2", "miss", 60.0), ("u2", "hit", 1.0), ("u1", "hit", 2.0)]:
        ev.append(event(D1, "search", ms, user_id=u, query_hash="qb", cache=c))
    ev.append(event(D1, "search", 90.0, user_id="u2", query_hash="qc", cache="bypass"))
    ev.append(event(D2, "search", 50.0, user_id="u1", query_hash="qa", cache="miss", demo=True))
    ev.append(event(D2, "search", 50.0, user_id="u1", query_hash="qa"))
    insert_events(con, ev)
    return con


def test_miss_penalty_compares_misses_with_uncached_searches_not_hits(cached):
    # Whole selection: misses 40 + 60 + 50 = 150 ms over 3; uncached (with a user) 90 and 50 ms: mean 70 ms.
    # 150 / (3 x 70) = 0.714x. (Against hits, 50 ms / 2.4 ms, it would read 20.8x: a working cache, not a cost.)
    row = layer.one(layer.query(cached, "cache"))
    assert (row["ok_misses"], row["compared_misses"], row["baseline_searches"]) == (3, 3, 2)
    assert row["avg_compared_miss_ms"] == pytest.approx(50.0) and row["baseline_ms"] == pytest.approx(70.0)
    assert row["miss_penalty"] == pytest.approx(150 / 210) and row["miss_penalty_note"] is None
    # Per day: day 1 compares its misses (40, 60) with its bypass (90): 100 / 180; day 2: 50 / 50.
    days = layer.query(cached, "cache", by=("bucket",), grain="day")
    assert list(days["miss_penalty"]) == pytest.approx([100 / 180, 1.0])
    # Per user: u1's misses 40 + 50 vs its uncached 50 ms: 90 / 100; u2's miss 60 vs its bypass 90.
    users = layer.query(cached, "cache", by=("user_id",)).set_index("user_id")
    assert users.loc["u1", "miss_penalty"] == pytest.approx(0.9)
    assert users.loc["u2", "miss_penalty"] == pytest.approx(60 / 90)
    assert figures.values(cached, ["miss_penalty"])["miss_penalty"] == pytest.approx(150 / 210)


def test_miss_penalty_without_a_baseline_says_why(con):
    insert_events(con, [event(D1, "search", 40.0, user_id="u1", query_hash="qa", cache="miss"),
                        event(D1, "search", 2.0, user_id="u1", query_hash="qa", cache="hit"),
                        # an uncached search of another service is no baseline for this one's misses
                        event(D1, "search", 30.0, user_id="u1", query_hash="qa", service="other")])
    row = layer.one(layer.query(con, "cache"))
    assert row["miss_penalty"] is None and row["compared_misses"] == 0
    assert row["miss_penalty_note"].startswith("no uncached searches to compare with")
    assert figures.values(con, ["miss_penalty"])["miss_penalty"] is None
    other = layer.one(layer.query(con, "cache", layer.Filters(service="other")))
    assert other["miss_penalty_note"] == "no successful cache misses in the selection"


def test_could_be_served(cached):
    # Cacheable: every search with a user except the bypass: 9. Could be served: the 5 hits, and day 2's two
    # searches of qa by u1 (an earlier successful search with that key, no write since): 7 of 9.
    # Through a cache (hit or miss): 8, of which 6 could be served. The first ask of qa and of qb cannot.
    row = layer.one(layer.query(cached, "cache_reuse"))
    assert (row["cacheable_searches"], row["could_be_served"], row["through_cache"],
            row["could_be_served_through_cache"]) == (9, 7, 8, 6)
    got = figures.values(cached, ["could_be_served", "could_be_served_through_cache"])
    assert got == pytest.approx({"could_be_served": 7 / 9, "could_be_served_through_cache": 6 / 8})
    # Filters apply after the history is judged: day 2 alone still knows day 1's searches.
    day2 = layer.one(layer.query(cached, "cache_reuse", layer.Filters(D2, D2 + timedelta(days=1))))
    assert (day2["cacheable_searches"], day2["could_be_served"]) == (2, 2)
    # The what-if replay reads the same rows: its "could be served" is this figure.
    sim = simulate(load_trace(cached), load_config())
    assert sim.could_be_served_rate == pytest.approx(got["could_be_served"])
    assert sim.could_be_served_rate_through_cache == pytest.approx(got["could_be_served_through_cache"])


def test_a_write_of_the_user_ends_what_could_be_served(con):
    t = D1
    insert_events(con, [event(t, "search", 10.0, user_id="u1", query_hash="qa"),
                        event(t + timedelta(seconds=1), "add", 10.0, user_id="u1"),
                        event(t + timedelta(seconds=2), "search", 10.0, user_id="u1", query_hash="qa"),
                        event(t + timedelta(seconds=3), "search", 10.0, user_id="u1", query_hash="qa"),
                        event(t + timedelta(seconds=4), "add", 10.0, user_id="u2"),
                        event(t + timedelta(seconds=5), "search", 10.0, user_id="u1", query_hash="qa")])
    row = layer.one(layer.query(con, "cache_reuse"))
    assert (row["cacheable_searches"], row["could_be_served"]) == (4, 2)
