"""The cache what-if simulator against hand-computed answers and brute-force replays on random traces."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memlens.config import load_config
from memlens.optimize.cache_sim import (
    SearchTrace,
    fixed_ttl_hits,
    generation_keys,
    load_trace,
    lru_curve,
    lru_hit_counts,
    prefix_count_less,
    refresh_ttl_hits,
    reuse_gaps_ms,
    shards_mask,
    simulate,
    stack_distances,
)

# An event: (ms since start, "s" search | "w" write, user, query)
Event = tuple[int, str, int, int]


def make_trace(events: list[Event]) -> SearchTrace:
    s = [e for e in events if e[1] == "s"]
    w = [e for e in events if e[1] == "w"]
    n = len(s)
    return SearchTrace(
        ts_ms=np.array([e[0] for e in s], np.int64),
        key=np.array([e[2] * 100 + e[3] for e in s], np.int64),
        user=np.array([e[2] for e in s], np.int64),
        latency_ms=np.full(n, 50.0),
        cost_usd=np.full(n, 0.001),
        served_by_cache=np.zeros(n, bool),
        write_ts_ms=np.array([e[0] for e in w], np.int64),
        write_user=np.array([e[2] for e in w], np.int64),
    )


def _ordered(events: list[Event]) -> list[Event]:
    # Writes at the same ms as a search come first (the simulator's documented tie rule).
    return sorted(events, key=lambda e: (e[0], 0 if e[1] == "w" else 1))


def brute_lru(events: list[Event], size: int, delete: bool) -> int:
    """delete=False: generation-stamped keys (stale entries age out); True: the user's entries are deleted."""
    cache: OrderedDict = OrderedDict()
    gen: dict[int, int] = {}
    hits = 0
    for _, kind, user, query in _ordered(events):
        if kind == "w":
            gen[user] = gen.get(user, 0) + 1
            if delete:
                for k in [k for k in cache if k[0] == user]:
                    del cache[k]
            continue
        key = (user, query, 0 if delete else gen.get(user, 0))
        if key in cache:
            hits += 1
            cache.move_to_end(key)
        else:
            cache[key] = True
            if len(cache) > size:
                cache.popitem(last=False)
    return hits


def brute_ttl(events: list[Event], ttl: int, refresh: bool) -> int:
    stored: dict[tuple[int, int], int] = {}
    hits = 0
    for t, kind, user, query in _ordered(events):
        if kind == "w":
            for k in [k for k in stored if k[0] == user]:
                del stored[k]
            continue
        key = (user, query)
        if key in stored and t < stored[key] + ttl:
            hits += 1
            if refresh:
                stored[key] = t
        else:
            stored[key] = t
    return hits


events_strategy = st.lists(
    st.tuples(st.integers(0, 40), st.sampled_from("sssw"), st.integers(0, 2), st.integers(0, 3)),
    min_size=1, max_size=60,
).map(lambda steps: [(sum(s[0] for s in steps[: i + 1]), s[1], s[2], s[3]) for i, s in enumerate(steps)])


@settings(max_examples=150, deadline=None)
@given(events_strategy, st.integers(1, 8))
def test_lru_all_sizes_match_brute_force(events, size):
    trace = make_trace(events)
    if len(trace) == 0:
        return
    dist = stack_distances(generation_keys(trace))
    sizes = np.arange(1, 10)
    counts = lru_hit_counts(dist, sizes)
    for c, got in zip(sizes, counts, strict=True):
        assert got == brute_lru(events, int(c), delete=False)
    # Deleting a user's entries instead only frees slots: never fewer hits than the generation-stamped cache.
    assert brute_lru(events, size, delete=True) >= brute_lru(events, size, delete=False)


@settings(max_examples=150, deadline=None)
@given(events_strategy, st.integers(1, 120))
def test_ttl_both_semantics_match_brute_force(events, ttl):
    trace = make_trace(events)
    if len(trace) == 0:
        return
    gkey = generation_keys(trace)
    assert int(refresh_ttl_hits(reuse_gaps_ms(trace.ts_ms, gkey), ttl).sum()) == brute_ttl(events, ttl, True)
    assert int(fixed_ttl_hits(trace.ts_ms, gkey, ttl).sum()) == brute_ttl(events, ttl, False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 70), min_size=1, max_size=60), st.data())
def test_prefix_count_less_matches_brute_force(values, data):
    y = np.array(values, np.int64)
    qi = np.array(data.draw(st.lists(st.integers(0, len(values)), min_size=1, max_size=20)), np.int64)
    qv = np.array(data.draw(st.lists(st.integers(0, 80), min_size=len(qi), max_size=len(qi))), np.int64)
    expected = [int((y[:a] < b).sum()) for a, b in zip(qi, qv, strict=True)]
    assert list(prefix_count_less(y, qi, qv)) == expected


def test_hand_computed_trace():
    # user 0 asks a, b, a, a; writes at 25; asks a at 30 (invalidated: miss), a at 40.
    events = [(0, "s", 0, 1), (10, "s", 0, 2), (12, "s", 0, 1), (20, "s", 0, 1), (25, "w", 0, 0),
              (30, "s", 0, 1), (40, "s", 0, 1)]
    trace = make_trace(events)
    gkey = generation_keys(trace)
    assert list(gkey[[0, 2, 3]]) == [gkey[0]] * 3 and gkey[4] != gkey[0]
    assert list(stack_distances(gkey)) == [0, 0, 2, 1, 0, 1]
    # LRU size 1: hits at 20 and 40; size 2: also 12.
    assert list(lru_hit_counts(stack_distances(gkey), np.array([1, 2]))) == [2, 3]
    gaps = reuse_gaps_ms(trace.ts_ms, gkey)
    assert np.isnan(gaps[[0, 1, 4]]).all() and list(gaps[[2, 3, 5]]) == [12, 8, 10]
    assert refresh_ttl_hits(gaps, 10).sum() == 1  # only the 8 ms gap
    assert refresh_ttl_hits(gaps, 11).sum() == 2
    # Fixed 15 ms: a stored at 0 → 12 hit, 20 miss (20 >= 15) → stored 20; 30 new generation miss; 40 hit.
    assert list(fixed_ttl_hits(trace.ts_ms, gkey, 15)) == [False, False, True, False, False, True]


def test_simulate_targets_and_savings():
    cfg = load_config(overrides={"optimize": {"cache": {"ttl_grid_s": [1, 10], "recommended_ttl_s": 10,
                                                        "hit_latency_ms": 2.0}}})
    # One key asked every 2 s, ten times: 9 of 10 can hit; the 70 % target needs 7 hits.
    events = [(i * 2000, "s", 0, 0) for i in range(10)]
    r = simulate(make_trace(events), cfg)
    assert r.requests == 10 and r.distinct_keys == 1 and r.max_hit_rate == pytest.approx(0.9)
    row = r.ttl_curve.set_index("ttl_s").loc[10.0]
    # Fixed 10 s: misses at 0, 10 s (expired exactly), so hits = 8.
    assert row["fixed_hits"] == 8 and row["refresh_hit_rate"] == pytest.approx(0.9)
    assert r.ttl_curve.set_index("ttl_s").loc[1.0, "fixed_hit_rate"] == 0.0
    assert r.ttl_for_target_refresh_s == pytest.approx(2.001)
    assert r.ttl_for_target_fixed_s == 10.0
    assert r.lru_size_for_target == 1
    assert r.hit_latency_source == "config"
    assert r.recommended_hits == 8
    assert r.recommended_latency_saved_ms == pytest.approx(8 * (50.0 - 2.0))
    assert r.recommended_cost_saved_usd == pytest.approx(8 * 0.001)


def test_shards_sampling_states_its_error():
    rng = np.random.default_rng(3)
    keys = (rng.zipf(1.3, 20000) % 500).astype(np.int64)
    sizes = np.array([5, 50, 200])
    exact = lru_curve(keys, sizes, exact_max=10**9, rate=0.5)
    sampled = lru_curve(keys, sizes, exact_max=5000, rate=0.5)
    assert exact.exact and not sampled.exact and sampled.sampling_error_prefix == 5000
    assert 0 <= sampled.sampling_error < 0.1
    assert np.max(np.abs(sampled.hit_rate - exact.hit_rate)) < 0.1
    mask = shards_mask(keys, 0.5)
    assert 0.3 < mask.mean() < 0.7
    assert all(mask[keys == k].all() or not mask[keys == k].any() for k in range(20))  # whole keys kept


def test_trace_rejects_bad_input():
    with pytest.raises(ValueError, match="sorted"):
        SearchTrace(np.array([2, 1]), np.zeros(2, np.int64), np.zeros(2, np.int64), np.zeros(2), np.zeros(2),
                    np.zeros(2, bool))
    with pytest.raises(ValueError, match="key has 1 rows"):
        SearchTrace(np.array([1, 2]), np.zeros(1, np.int64), np.zeros(2, np.int64), np.zeros(2), np.zeros(2),
                    np.zeros(2, bool))


INSERT = """INSERT INTO raw_op_events (schema_version, event_id, ts, service, mode, call_mode, op, user_id,
    memory_id, latency_ms, status, query_hash, top_k, result_ids, embedding_model, embedding_tokens, cache,
    source_file, source_line, ingested_at)
    VALUES (1, ?, ?, 'svc', 'oss', 'sync', ?, ?, ?, ?, 'ok', ?, ?, ?, 'text-embedding-3-small', ?, ?, 'f', 1, ?)"""


def insert_op(con, ts, op, user=None, query=None, latency=50.0, memory_id=None, result_ids=None, tokens=1000,
              cache=None):
    con.execute(INSERT, [uuid.uuid4().hex, ts, op, user, memory_id, latency, query, 5 if op == "search" else None,
                         result_ids, tokens, cache, ts])


def test_load_trace_from_warehouse(con):
    t0 = datetime(2026, 11, 1, 12, 0, 0)
    insert_op(con, t0, "add", user="u1", result_ids=["m1"])
    insert_op(con, t0 + timedelta(seconds=1), "search", user="u1", query="q1")
    insert_op(con, t0 + timedelta(seconds=2), "search", user="u1", query="q1", latency=2.0, cache="hit")
    insert_op(con, t0 + timedelta(seconds=3), "update", memory_id="m1")  # owner resolved through the add
    insert_op(con, t0 + timedelta(seconds=4), "search", user="u1", query="q1")
    insert_op(con, t0 + timedelta(seconds=5), "search", user="u2", query="q1")
    trace = load_trace(con)
    assert len(trace) == 4 and len(trace.write_ts_ms) == 2
    assert list(trace.served_by_cache) == [False, True, False, False]
    assert trace.cost_usd[0] == pytest.approx(1000 * 0.02 / 1e6)
    gkey = generation_keys(trace)
    assert gkey[0] == gkey[1] and gkey[2] != gkey[1] and gkey[3] != gkey[2]
    r = simulate(trace, load_config())
    assert r.hit_latency_source == "observed" and r.hit_latency_ms == 2.0
    assert r.avg_miss_latency_ms == 50.0
    assert r.max_hit_rate == pytest.approx(0.25)
    assert len(load_trace(con, since=t0 + timedelta(seconds=4))) == 2
