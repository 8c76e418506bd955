"""Run figures and A/B ratios: hand-computed answers."""

from __future__ import annotations

import pytest

from memlens.loadtest.plan import UserPlan, added_ids
from memlens.loadtest.scenario import Mix
from memlens.loadtest.stats import latency_summary, ramp_levels, ratio_spread, verdict


def test_latency_summary_linear_percentiles():
    s = latency_summary([10, 20, 30, 40, 100])
    # linear: P50 = 30; P95 at rank 0.95*4 = 3.8 -> 40 + 0.8*60 = 88; P99 at 3.96 -> 40 + 0.96*60 = 97.6
    assert (s.count, s.avg_ms, s.p50_ms, s.max_ms) == (5, 40.0, 30.0, 100.0)
    assert s.p95_ms == pytest.approx(88.0) and s.p99_ms == pytest.approx(97.6)
    assert latency_summary([]).avg_ms is None


@pytest.mark.parametrize(("n", "levels"), [(1, [1]), (2, [1, 2]), (6, [1, 2, 4, 6]), (8, [1, 2, 4, 8])])
def test_ramp_levels(n, levels):
    assert ramp_levels(n) == levels


def test_ramp_levels_rejects_zero():
    with pytest.raises(ValueError):
        ramp_levels(0)


def test_ratio_spread_pairs_rounds():
    r = ratio_spread("p95_ms", [100, 200, 50], [110, 180, 60])
    assert r.ratios == pytest.approx((1.1, 0.9, 1.2))
    assert (r.median, r.low, r.high) == pytest.approx((1.1, 0.9, 1.2))
    assert 0.9 <= r.boot_low <= r.median <= r.boot_high <= 1.2
    assert verdict(r, higher_is_better=False) == "no clear change"


def test_ratio_spread_skips_zero_baselines_and_verdicts():
    r = ratio_spread("cache_hit_rate", [0.0, None, 0.5, 0.5], [0.3, 0.4, 0.6, 0.55])
    assert r.ratios == pytest.approx((1.2, 1.1))
    assert verdict(r, higher_is_better=True) == "B better"
    one = ratio_spread("error_rate", [0.0, 0.0, 0.01], [0.0, 0.0, 0.0])
    assert one.ratios == (0.0,) and verdict(one, higher_is_better=False) == "too few rounds (1)"
    faster = ratio_spread("avg_ms", [10, 10], [5, 8])
    assert verdict(faster, higher_is_better=False) == "B better"
    assert verdict(ratio_spread("x", [0], [1]), True) == "n/a"
    with pytest.raises(ValueError):
        ratio_spread("x", [1, 2], [1])


def test_bootstrap_is_seeded():
    a, b = [1, 2, 3, 4], [1.1, 2.4, 2.7, 4.4]
    assert ratio_spread("m", a, b, seed=3) == ratio_spread("m", a, b, seed=3)


def test_user_plan_is_repeatable_and_follows_owned_ids():
    mix = Mix(search=1, add=1, update=1, delete=1, get=0, get_all=0, repeat_query_share=0.5)
    p1 = UserPlan("u", mix, seed=5, round_no=1, index=0, known_ids=["m1", "m2"])
    p2 = UserPlan("u", mix, seed=5, round_no=1, index=0, known_ids=["m1", "m2"])
    seq1, seq2 = [], []
    for p, seq in ((p1, seq1), (p2, seq2)):
        for i in range(40):
            req = p.next()
            seq.append(req)
            p.observe(req, {"results": [{"id": f"n{i}", "event": "ADD"}]} if req.op == "add" else None)
    assert seq1 == seq2
    assert {r.op for r in seq1} == {"search", "add", "update", "delete"}
    owned = {"m1", "m2"} | {f"n{i}" for i, r in enumerate(seq1) if r.op == "add"}
    for r in seq1:
        if r.op in ("update", "delete"):
            assert r.memory_id in owned
    deleted = [r.memory_id for r in seq1 if r.op == "delete"]
    assert len(deleted) == len(set(deleted))  # never deletes the same memory twice
    queries = [r.text for r in seq1 if r.op == "search"]
    assert len(set(queries)) < len(queries)  # repeated questions happen
    other_round = UserPlan("u", mix, seed=5, round_no=2, index=0, known_ids=["m1", "m2"])
    assert [other_round.next() for _ in range(10)] != seq1[:10]


def test_plan_adds_when_it_owns_nothing_and_think_time():
    p = UserPlan("u", Mix(search=0, add=0, update=1, delete=0, get=0, get_all=0, think_time_ms=20), 1, 1, 0)
    assert p.next().op == "add"
    pauses = [p.think_s() for _ in range(2000)]
    assert sum(pauses) / len(pauses) == pytest.approx(0.020, rel=0.1)


def test_added_ids():
    assert added_ids({"results": [{"id": "a", "event": "ADD"}, {"id": "b", "event": "UPDATE"}]}) == ["a"]
    assert added_ids(None) == [] and added_ids([{"id": "c"}]) == ["c"]
